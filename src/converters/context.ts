/**
 * The state converters share while one graph becomes one network: the network under
 * construction, the module (for weights), the float precision, and the layer-building helpers
 * that keep the network strongly typed (casts, rank broadcasting, constants in the right dtype).
 */
import '../engine/layer_inference.js';
import type { LayerParamsMap, LayerType, NetTensor } from '../engine/network.js';
import type { NetworkDefinition } from '../engine/network_definition.js';
import type { GraphModule } from '../ir/graph_module.js';
import type { Node } from '../ir/node.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import { formatShape, numelOf } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { planReshape, type ReshapeDim } from './reshape_plan.js';

/** The float type the network computes in. */
export type FloatPrecision = 'float32' | 'float16' | 'bfloat16';

/** A conversion failure; the message names the node and its op. */
export class ConversionError extends Error {
  override name = 'ConversionError';
  /** The graph node at fault. */
  readonly node: string;
  constructor(node: string, op: string, message: string, options?: ErrorOptions) {
    super(`node '${node}' (${op}): ${message}`, options);
    this.node = node;
  }
}

/** Quantization parameters of a quantized network tensor, as network tensors. */
export interface QuantInfo {
  readonly scale: NetTensor;
  readonly zeroPoint: NetTensor | null;
  readonly axis: number | null;
}

/** Where a 0-d size tensor came from: dim `dim` of `tensor` (lets a reshape keep that dim in place). */
export interface SizeOrigin {
  readonly tensor: NetTensor;
  readonly dim: number;
}

interface ConstantOptions {
  /** View the value with this shape (same element count). */
  readonly shape?: readonly number[];
  /** Keep a float value's dtype instead of storing it in the network precision (Q/DQ scales). */
  readonly keepDtype?: boolean;
  /** Appended to the layer name of a constant made by a converter. */
  readonly suffix?: string;
}

/**
 * Conversion state and layer helpers. Every layer a converter adds is named
 * `[LAYER]-[acc.op]-[node]` after the node being converted (repeats get `_1`, `_2`, ...), so any
 * layer leads back to its graph node. Float values live in `precision`: constants are stored in it
 * and only cast and Q/DQ layers change a tensor's dtype.
 *
 * @example
 * const y = ctx.layer1('activation', [x], { op: 'relu', alpha: 0, beta: 0 }); // [ACTIVATION]-[acc.relu]-[relu]
 */
export class ConversionContext {
  readonly network: NetworkDefinition;
  readonly module: GraphModule;
  readonly precision: FloatPrecision;
  #op = '';
  #nodeName = '';
  #node: Node<'call_function'> | null = null;
  readonly #constants = new Map<Tensor, Map<string, NetTensor>>();
  readonly #constantSources = new WeakMap<NetTensor, Tensor>();
  readonly #attrNames = new Map<Tensor, string>();
  readonly #sizeOrigins = new WeakMap<NetTensor, SizeOrigin>();
  readonly #quant = new WeakMap<NetTensor, QuantInfo>();

  constructor(network: NetworkDefinition, module: GraphModule, precision: FloatPrecision) {
    this.network = network;
    this.module = module;
    this.precision = precision;
  }

  /** @internal Called by the interpreter: layers added next are named after `nodeName` and `op`. */
  enter(op: string, nodeName: string, node: Node<'call_function'> | null = null): void {
    this.#op = op;
    this.#nodeName = nodeName;
    this.#node = node;
  }

  /** @internal Names constants of `t` after the get_attr node that reads it. */
  nameAttr(t: Tensor, nodeName: string): void {
    if (!this.#attrNames.has(t)) this.#attrNames.set(t, nodeName);
  }

  /** The node being converted. */
  get node(): Node<'call_function'> {
    if (!this.#node) throw new Error('ConversionContext: no node is being converted');
    return this.#node;
  }

  /** Throws a ConversionError naming the current node. */
  fail(message: string): never {
    throw new ConversionError(this.#nodeName, this.#op, message);
  }

  /** The network dtype of a graph dtype: every float type becomes the precision. */
  netType(dtype: DType): DType {
    return isFloating(dtype) ? this.precision : dtype;
  }

  /** The name the next layer of `type` gets. */
  layerName(type: LayerType, suffix?: string): string {
    return `[${type.toUpperCase()}]-[${this.#op}]-[${this.#nodeName}]${suffix ? `_${suffix}` : ''}`;
  }

  /** Adds a layer named after the current node; returns its outputs. */
  layer<K extends LayerType>(type: K, inputs: readonly NetTensor[], params: LayerParamsMap[K], suffix?: string): NetTensor[] {
    return this.network.addLayer(type, inputs, params, this.layerName(type, suffix), this.#nodeName);
  }

  /** Adds a single-output layer; returns its output. */
  layer1<K extends LayerType>(type: K, inputs: readonly NetTensor[], params: LayerParamsMap[K], suffix?: string): NetTensor {
    return this.layer(type, inputs, params, suffix)[0]!;
  }

  /**
   * A constant layer holding `t`, created once per tensor (and view shape): float values are
   * stored in the precision unless `keepDtype`. Named after the get_attr node that read `t`, or
   * after the current node.
   */
  constant(t: Tensor, opts: ConstantOptions = {}): NetTensor {
    const shape = opts.shape ?? t.shape;
    if (numelOf(shape) !== t.numel) throw new RangeError(`constant view ${formatShape(shape)} does not fit a tensor of shape ${formatShape(t.shape)}`);
    const dtype = opts.keepDtype ? t.dtype : this.netType(t.dtype);
    const key = `${dtype}${formatShape(shape)}`;
    let byView = this.#constants.get(t);
    const hit = byView?.get(key);
    if (hit) return hit;
    const value = t.castTo(dtype).withShape(shape);
    const attr = this.#attrNames.get(t);
    const name = attr !== undefined ? `[CONSTANT]-[get_attr]-[${attr}]` : this.layerName('constant', opts.suffix);
    const [out] = this.network.addLayer('constant', [], { value }, name, attr ?? this.#nodeName);
    if (!byView) this.#constants.set(t, (byView = new Map()));
    byView.set(key, out!);
    this.#constantSources.set(out!, t);
    return out!;
  }

  /** The module tensor a constant layer output holds (before any dtype change), if it is one. */
  constantValue(t: NetTensor): Tensor | undefined {
    return this.#constantSources.get(t);
  }

  /** A constant of shape [1, ..., 1] (`rank` ones) holding `value` in `dtype`. */
  scalarConstant(value: number | boolean, dtype: DType, rank: number): NetTensor {
    const t = Tensor.full(new Array<number>(rank).fill(1), Number(value), dtype);
    return this.constant(t, { keepDtype: true });
  }

  /** `t` converted to `dtype` (no layer when it already has it). */
  cast(t: NetTensor, dtype: DType): NetTensor {
    return t.dtype === dtype ? t : this.layer1('cast', [t], { toType: dtype });
  }

  /** `t` reshaped to `target` (see planReshape); no layer when nothing changes. */
  reshape(t: NetTensor, target: readonly ReshapeDim[]): NetTensor {
    let plan: LayerParamsMap['shuffle'] | null;
    try {
      plan = planReshape(t.shape, target);
    } catch (e) {
      return this.fail((e as Error).message);
    }
    return plan ? this.layer1('shuffle', [t], plan) : t;
  }

  /** `t` with its dims permuted (output dim i = input dim perm[i]). */
  transpose(t: NetTensor, perm: readonly number[]): NetTensor {
    if (perm.every((d, i) => d === i)) return t;
    return this.layer1('shuffle', [t], { firstTranspose: [...perm], reshape: null, secondTranspose: null });
  }

  /** `t` with a size-1 dim inserted at `dim` (0..rank). */
  unsqueeze(t: NetTensor, dim: number): NetTensor {
    const target: ReshapeDim[] = t.shape.map((_, i) => ({ copy: i }));
    target.splice(dim, 0, 1);
    return this.reshape(t, target);
  }

  /** `t` without the listed dims, which must be static 1s. */
  squeeze(t: NetTensor, dims: readonly number[]): NetTensor {
    for (const d of dims) {
      if (t.shape[d] !== 1) this.fail(`cannot squeeze dim ${d} of ${t.dtype}${formatShape(t.shape)}: its size is ${t.shape[d] === -1 ? 'dynamic' : t.shape[d]}, not 1`);
    }
    return this.reshape(t, t.shape.flatMap((_, i) => (dims.includes(i) ? [] : [{ copy: i }])));
  }

  /** `t` with leading size-1 dims up to `rank`. */
  unsqueezeTo(t: NetTensor, rank: number): NetTensor {
    if (t.shape.length >= rank) return t;
    const lead = new Array<ReshapeDim>(rank - t.shape.length).fill(1);
    return this.reshape(t, [...lead, ...t.shape.map((_, i) => ({ copy: i }))]);
  }

  /** The tensors brought to a common rank with leading size-1 dims (elementwise layers need equal ranks). */
  broadcastRank(a: NetTensor, b: NetTensor): [NetTensor, NetTensor] {
    const rank = Math.max(a.shape.length, b.shape.length);
    return [this.unsqueezeTo(a, rank), this.unsqueezeTo(b, rank)];
  }

  /** Like broadcastRank, for any number of tensors. */
  equalRanks(ts: readonly NetTensor[]): NetTensor[] {
    const rank = Math.max(...ts.map((t) => t.shape.length));
    return ts.map((t) => this.unsqueezeTo(t, rank));
  }

  /** An elementwise layer on operands brought to equal rank (dtypes must already agree). */
  elementwise(op: LayerParamsMap['elementwise']['op'], a: NetTensor, b: NetTensor): NetTensor {
    const [x, y] = this.broadcastRank(a, b);
    return this.layer1('elementwise', [x, y], { op });
  }

  /** A unary layer. */
  unary(op: LayerParamsMap['unary']['op'], x: NetTensor): NetTensor {
    return this.layer1('unary', [x], { op });
  }

  /** @internal Records that 0-d `t` holds the runtime size of `origin.dim` of `origin.tensor`. */
  recordSizeOrigin(t: NetTensor, origin: SizeOrigin): void {
    this.#sizeOrigins.set(t, origin);
  }

  /** The tensor and dim a dynamic size value came from (acc.size), if known. */
  sizeOrigin(t: NetTensor): SizeOrigin | undefined {
    return this.#sizeOrigins.get(t);
  }

  /** @internal Records the quantization parameters of a quantize layer's output. */
  recordQuant(t: NetTensor, q: QuantInfo): void {
    this.#quant.set(t, q);
  }

  /** Quantization parameters recorded for `t` by the quantize converters. */
  quantInfo(t: NetTensor): QuantInfo | undefined {
    return this.#quant.get(t);
  }

}

/** Whether a resolved value is a network tensor (not a number, tuple or module Tensor). */
export function isNetTensor(v: unknown): v is NetTensor {
  return typeof v === 'object' && v !== null && !(v instanceof Tensor) && 'producer' in v && 'dtype' in v && 'shape' in v;
}
