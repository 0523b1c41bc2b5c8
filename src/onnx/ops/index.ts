// Registers every ONNX op mapping. Importing this module makes the importer's op set available.
import '../../acc_ops/ops/index.js';
import './elementwise.js';
import './activation.js';
import './conv_pool.js';
import './norm.js';
import './linalg.js';
import './shape.js';
import './gather_nd.js';
import './reduce.js';
import './pad_resize.js';
import './quant.js';
