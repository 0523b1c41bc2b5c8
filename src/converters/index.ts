/**
 * Converters from acc ops to network layers, and the NetworkInterpreter that applies them to an acc
 * graph. Importing this module registers the layer shape rules, the acc ops and every converter.
 *
 * @example
 * import { NetworkInterpreter, printNetwork } from './converters/index.js';
 * const { network } = new NetworkInterpreter(accTrace(model, [x])).run();
 * console.log(printNetwork(network));
 */
import '../engine/layer_inference.js';
import '../acc_ops/ops/index.js';
import './activation.js';
import './conv.js';
import './elementwise.js';
import './index_ops.js';
import './linalg.js';
import './norm.js';
import './pad_resize.js';
import './pool.js';
import './quant.js';
import './reduce.js';
import './shape.js';
import './structural.js';

export { NetworkDefinition } from '../engine/network_definition.js';
export { ConversionContext, ConversionError, isNetTensor, type FloatPrecision, type QuantInfo, type SizeOrigin } from './context.js';
export {
  MissingConverterError, NetworkInterpreter,
  type ConvertedNetwork, type InputSpec, type NetworkInterpreterOptions, type UnconvertibleNode,
} from './network_interpreter.js';
export { emitNetworkSource, networkWeights, printLayer, printNetwork, type EmitOptions } from './print_network.js';
export {
  converterSupport, convertibleOps, getConverter, hasConverter, registerConverter,
  type Converter, type ConverterArgs, type ConverterEntry, type ConverterOptions, type ConverterResult, type ConverterValue, type SupportCheck,
} from './registry.js';
export { planReshape, type ReshapeDim } from './reshape_plan.js';
