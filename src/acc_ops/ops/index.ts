// Registers every acc op family. Importing this module makes the whole op set available.
import './structural.js';
