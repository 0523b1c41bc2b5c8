// Registers every acc op family. Importing this module makes the whole op set available.
import './structural.js';
import './linalg.js';
import './conv.js';
import './pool.js';
import './norm.js';
import './elementwise.js';
import './activation.js';
import './reduce.js';
import './shape.js';
import './index_ops.js';
import './quant.js';
import './pad_resize.js';
