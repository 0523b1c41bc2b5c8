// Public surface of ONNX import.
export { importOnnx, MAX_OPSET, MIN_OPSET, type ImportOnnxOptions } from './import.js';
export { OnnxGraphModule, type OnnxModelInfo, type OnnxWarning } from './module.js';
export { OnnxError, OnnxUnsupportedOpError, type OnnxLocation } from './errors.js';
export { DEFAULT_DIM_RANGE, type DimRange, type InputShapeOptions, type OnnxInputSpec, type ShapeRanges } from './inputs.js';
export { registerOnnxFallback, type OnnxFallbackImpl } from './fallback.js';
export { supportedOnnxOps } from './ops/define.js';
export { parseOnnxModel } from './parser.js';
export type { OnnxNodeInfo } from './graph_builder.js';
