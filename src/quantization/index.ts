// Post-training quantization: calibration, Q/DQ placement and insertion, cache, sensitivity.
export { AbsHistogram, HISTOGRAM_BINS } from './histogram.js';
export { entropyAmax, entropyDivergences, ENTROPY_LEVELS } from './entropy.js';
export { percentileAmax, DEFAULT_PERCENTILE } from './percentile.js';
export { scaleOf, perChannelAmax, perChannelScales, INT8_MAX, MIN_SCALE } from './scales.js';
export {
  collectAmax, methodSpec, CalibrationError, type CalibrationBatch, type CalibrationData, type CalibrationMethod,
  type CalibrationPhase, type CalibrationProgress, type CollectOptions, type CollectedAmax, type MethodSpec,
} from './calibrator.js';
export {
  interpreterObserver, engineObserver, type TensorObserver, type ObserverFactory, type ObservationSink, type GraphRunner,
  type LowerForObservation,
} from './observe.js';
export { copyGraphModule } from './graph_copy.js';
export { planLayers, activationTensors, type LayerPlan, type QdqInput } from './placement.js';
export { insertQdq, insertQdqPass } from './insert_qdq.js';
export {
  graphStructureHash, readCalibrationCache, writeCalibrationCache, CalibrationCacheError, CALIBRATION_CACHE_FORMAT,
  CALIBRATION_CACHE_VERSION, type CalibrationCache, type CalibrationCacheStore, type CachedCalibration,
} from './cache.js';
export {
  QuantizationEvaluator, rankLayers, fallBackUntil, meetsTarget, formatAgreement, type AccuracyTarget, type Agreement,
  type LayerSensitivity, type FallbackResult,
} from './sensitivity.js';
export {
  formatQuantizationReport, type QuantizationReport, type LayerPrecisionRecord, type CalibrationRecord, type FloatReasonKind,
} from './report.js';
export { quantizationReportFromJSON } from './report_json.js';
export { carriesQdq, enginePrecision, quantizeOptionsOf, warnUnusedQuantization, CALIBRATION_IGNORED_WARNING, type CompileQuantizationOptions } from './compile_step.js';
export {
  quantizeGraph, EXAMPLE_INPUTS_WARNING, type CalibrationOptions, type QuantizationOptions, type QuantizeGraphOptions,
  type QuantizeGraphResult,
} from './quantize.js';
