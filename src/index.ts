/**
 * fxrt: an FX-style graph IR and lowering compiler for neural networks.
 *
 * @example
 * import { Tensor, nn, F, symbolicTrace, accTrace, PassManager, defaultPasses } from 'fxrt';
 * const gm = symbolicTrace(new nn.Linear(4, 2));
 * const acc = accTrace(gm, [Tensor.randn([3, 4])]);
 * const { gm: optimized } = new PassManager(defaultPasses()).run(acc);
 */

// Registration order matters: acc ops, then the source forms that map onto them.
import './acc_ops/ops/index.js';
import './nn/tensor_methods.js';

// Tensors
export { Tensor, formatTensor, type QuantParams, type NestedArray } from './tensor/tensor.js';
export { DTYPES, isDType, isFloating, isIntegral, itemSize, promoteTypes, type DType } from './tensor/dtype.js';
export { broadcastShapes, type Shape } from './tensor/shape.js';
export { allClose, maxAbsDiff, cosineSimilarity } from './tensor/compare.js';

// Module API
export { F } from './nn/functional.js';
export { nn, Module, Parameter, init, manualSeed, Generator, builtinModuleClasses, buildLayer } from './nn/index.js';
export * as models from './models/index.js';
export { modelZoo } from './models/index.js';

// Graph IR
export { Graph, LintError, type TargetResolver } from './ir/graph.js';
export { Node, Slice, slice, isNode, mapArgument, type AnyNode, type Argument, type NodeOp, type TensorMeta, type ValueMeta } from './ir/node.js';
export { GraphModule } from './ir/graph_module.js';
export { Interpreter, InterpreterError } from './ir/interpreter.js';
export { symbolicTrace, Tracer, type TraceOptions, type LeafSpec } from './ir/tracer.js';
export { TraceError, TraceProxy } from './ir/proxy.js';
export { registerFunction, getFunction, lookupFunction, type GraphFunction } from './ir/function.js';
export { wrap } from './ir/wrap.js';
export { sig, type Signature, type Param } from './ir/signature.js';
export { generateCode, toFolder } from './ir/codegen.js';
export { saveGraphModule, loadGraphModule, registerModuleClass, SerializationError } from './ir/serialize.js';

// acc ops
export { accTrace, AccTracer, type AccTraceOptions } from './acc_ops/acc_tracer.js';
export { acc, callAcc } from './acc_ops/callable.js';
export { accOps, getAccOp, defineAccOp, type AccOp, type AccOpDef, type AccOpProperty } from './acc_ops/registry.js';
export { registerMapping, getMapping, defineSourceFunction, type Emitter, type MappingRule } from './acc_ops/mapping.js';

// Passes
export * from './passes/index.js';

// Network definition, converters, engine
export { NetworkDefinition, NetworkError } from './engine/network_definition.js';
export type { Layer, LayerType, LayerParamsMap, NetTensor, ShapeRange } from './engine/network.js';
export { NetworkInterpreter, emitNetworkSource, printNetwork, registerConverter, converterSupport, type InputSpec } from './converters/index.js';
export { Builder, BuildError, type BuilderConfig } from './engine/builder.js';
export { Engine, registerBackend, type Backend, type LayerInfo } from './engine/engine.js';
export { ExecutionContext, EngineInputError } from './engine/execution_context.js';
export { serializePlan, deserializePlan, PlanFormatError, type Plan } from './engine/plan.js';
export { formatReport, type BuildReport } from './engine/report.js';

// Lowering: splitter, engines, compile
export { compile, CompileError, defaultTolerance, type CompileOptions, type CompileStage, type CompileProgress } from './compile.js';
export { benchmark, BenchmarkTimeoutError, type BenchmarkOptions, type BenchmarkResult } from './benchmark.js';
export { splitModule, type SplitOptions, type SplitResult, type SplitPart } from './splitter/splitter.js';
export { decideSupport, ENGINE_DTYPES, type OperatorSupportOptions } from './splitter/operator_support.js';
export { SplitPreview } from './splitter/preview.js';
export { EngineModule } from './lowering/engine_module.js';
export { LoweredModule } from './lowering/lowered_module.js';
export { compareWithReference, type AccuracyReport } from './lowering/accuracy.js';
export { resolveDevice, type Device } from './lowering/device.js';
export { InputMismatchError } from './lowering/input_check.js';
export { SavedFormatError } from './lowering/container.js';

// Post-training quantization (compile's precision 'int8'): calibration, Q/DQ placement and insertion, cache, sensitivity
export {
  quantizeGraph, planLayers, activationTensors, insertQdq, insertQdqPass, collectAmax, methodSpec, interpreterObserver, engineObserver,
  AbsHistogram, entropyAmax, entropyDivergences, percentileAmax, perChannelScales, scaleOf, graphStructureHash, readCalibrationCache,
  writeCalibrationCache, QuantizationEvaluator, rankLayers, fallBackUntil, formatQuantizationReport, copyGraphModule,
  CalibrationError, CalibrationCacheError, EXAMPLE_INPUTS_WARNING, CALIBRATION_IGNORED_WARNING,
  type CalibrationOptions, type QuantizationOptions, type QuantizeGraphOptions, type QuantizeGraphResult, type CalibrationMethod,
  type CalibrationData, type CalibrationBatch, type CalibrationProgress, type CalibrationPhase, type CalibrationCache,
  type CalibrationCacheStore, type AccuracyTarget, type Agreement, type LayerSensitivity, type QuantizationReport,
  type LayerPrecisionRecord, type FloatReasonKind, type LayerPlan, type QdqInput, type TensorObserver, type ObserverFactory,
} from './quantization/index.js';

// ONNX import
export {
  importOnnx, OnnxGraphModule, OnnxError, OnnxUnsupportedOpError, registerOnnxFallback, supportedOnnxOps, parseOnnxModel,
  DEFAULT_DIM_RANGE, MIN_OPSET, MAX_OPSET, type ImportOnnxOptions, type InputShapeOptions, type OnnxInputSpec, type DimRange,
  type ShapeRanges, type OnnxModelInfo, type OnnxWarning, type OnnxLocation, type OnnxFallbackImpl, type OnnxNodeInfo,
} from './onnx/index.js';

// CUDA backend (loads the native addon lazily; cudaAvailable() says whether and why not)
export * as cuda from './backends/cuda/index.js';
export { cudaAvailable } from './backends/cuda/index.js';
