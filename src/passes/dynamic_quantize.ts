/**
 * Dynamic quantization (seed 004; PyTorch's `quantize_dynamic`, TVM's qnn dense with runtime
 * qparams): linear and matmul layers with constant weights get INT8 weights, quantized once here,
 * and an INT8 activation whose scale the model computes from each input at run time; everything
 * else keeps the model's float precision. Expressed as explicit Q/DQ with existing acc ops, so the
 * engine builder fuses DQ(x), DQ(w) → GEMM into an INT8 GEMM (int32 accumulation, float output)
 * where it can, and runs the Q/DQ as standalone steps (simulated quantization) where it cannot:
 *
 *   y = linear(x, W, b)
 *   →
 *   s  = clamp(amax(abs(x)) / 127, min: 2^-23)                      one scale per call (a 0-d tensor)
 *   xq = quantize_per_tensor(x, s, 0, int8)
 *   y  = linear(dequantize(xq), dequantize(Wq), b)                  Wq: int8 constant, per output channel
 *
 * The activation's per-tensor quantize takes its scale as a tensor (torch.quantize_per_tensor's
 * tensor form) and lowers to the per-tensor Q layer that fused INT8 GEMMs take. The floor 2^-23
 * (float32 epsilon, PyTorch observers' `eps`) keeps the scale positive for an all-zero input, which
 * then quantizes to zeros exactly; a NaN or infinite input has no scale, and quantizing fails naming it.
 * Weights: symmetric int8, per output channel (dim 0 of a linear weight, the last dim of a matmul
 * weight, dim 0 of a transposed_matmul weight read transposed), scale max|w_c| / 127 with the
 * same floor, codes round half to even.
 *
 * `granularity: 'token'` computes one scale per row of the input flattened to [rows, features]
 * (per token in a transformer), quantized along the rows, which the engine runs as standalone Q/DQ
 * (fused INT8 GEMMs take one activation scale); the row count must be static (the engine's
 * quantize layer refuses a dynamic quantization axis). A transposed_matmul reading its input
 * transposed has no rows to scale and is quantized per tensor.
 *
 * Eligible: acc.linear with a constant weight; acc.matmul and acc.transposed_matmul whose `other`
 * is a constant 2-D weight; a float activation. Layers reading the same activation share its
 * quantization (Q, K and V projections quantize their input once); layers sharing a weight share
 * its codes. Not eligible nodes are left as they are, as are nodes named in `exclude` (by node
 * name or acc op name).
 */
import { getAccOp } from '../acc_ops/registry.js';
import type { Graph } from '../ir/graph.js';
import type { GraphModule } from '../ir/graph_module.js';
import { isNode, type AnyNode, type Argument, type TensorMeta, type ValueMeta } from '../ir/node.js';
import { quantizePerChannel } from '../kernels/reference/quant.js';
import { isFloating } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { accOpName, definePass, tensorMetaOf, type NamedPass } from './pass_manager.js';

/** Options of dynamicQuantize. */
export interface DynamicQuantizeOptions {
  /** One activation scale per call ('tensor', default) or per row of the flattened input ('token'). */
  readonly granularity?: 'tensor' | 'token';
  /** Node names or acc op names ('linear', 'matmul', 'transposed_matmul') to leave in float. */
  readonly exclude?: readonly string[];
}

/** The smallest scale used (float32 epsilon, PyTorch observers' floor): an all-zero tensor gets it. */
export const MIN_DYNAMIC_SCALE = 2 ** -23;

/** Symmetric int8: max|x| maps to 127. */
const QMAX = 127;

/**
 * The dynamic quantization pass (see the module comment); runs after the passes that bring
 * weights into their final constant form.
 *
 * @example
 * const { gm: q } = new PassManager([...defaultPasses(), dynamicQuantize({ granularity: 'tensor' })]).run(accTrace(model, [x]));
 */
export function dynamicQuantize(opts: DynamicQuantizeOptions = {}): NamedPass {
  const granularity = opts.granularity ?? 'tensor';
  if (granularity !== 'tensor' && granularity !== 'token') {
    throw new TypeError(`dynamicQuantize: granularity must be 'tensor' or 'token', got '${String(granularity)}'`);
  }
  const exclude = new Set(opts.exclude ?? []);
  return definePass('dynamicQuantize', (gm: GraphModule) => {
    checkExclusions(gm, exclude);
    let modified = false;
    const rewriter = new Rewriter(gm, granularity);
    for (const node of gm.graph.nodeList()) {
      if (exclude.has(node.name) || exclude.has(accOpName(node) ?? '')) continue;
      const layer = eligible(gm, node);
      if (!layer) continue;
      rewriter.rewrite(layer);
      modified = true;
    }
    if (modified) gm.deleteUnusedAttributes();
    return { gm, modified };
  }, { runsAfter: ['constFold', 'foldBatchNorm', 'fusePermuteMatmul'] });
}

const LAYER_OPS = new Set(['linear', 'matmul', 'transposed_matmul']);

/**
 * Rejects exclusions that name neither a node of the graph nor a layer kind: a typo, or a layer
 * renamed by an earlier pass (mergeParallelLinears), would otherwise quantize it silently.
 */
function checkExclusions(gm: GraphModule, exclude: ReadonlySet<string>): void {
  const nodes = gm.graph.nodeList();
  const names = new Set(nodes.map((n) => n.name));
  for (const e of exclude) {
    if (names.has(e) || LAYER_OPS.has(e)) continue;
    const layers = nodes.filter((n) => eligible(gm, n) !== undefined).map((n) => n.name);
    throw new RangeError(`dynamicQuantize: exclude '${e}' is neither a node of the graph nor one of ${[...LAYER_OPS].join(', ')} ` +
      `(layers: ${layers.join(', ') || 'none'})`);
  }
}

/** A layer to quantize: its activation, its constant weight and the weight's output-channel axis. */
interface Layer {
  readonly node: AnyNode;
  readonly op: 'linear' | 'matmul' | 'transposed_matmul';
  readonly x: AnyNode;
  readonly xMeta: TensorMeta;
  readonly weight: AnyNode;
  readonly value: Tensor;
  readonly axis: number;
  /** The activation is read transposed (rows are not its leading dims). */
  readonly transposedInput: boolean;
}

/** The layer `node` is, if dynamic quantization applies to it. */
function eligible(gm: GraphModule, node: AnyNode): Layer | undefined {
  const op = accOpName(node);
  if (op !== 'linear' && op !== 'matmul' && op !== 'transposed_matmul') return undefined;
  const key = op === 'linear' ? 'weight' : 'other';
  const x = node.kwargs['input'];
  const weight = node.kwargs[key];
  if (!isNode(x) || x.op === 'get_attr' || !isNode(weight) || weight.op !== 'get_attr') return undefined;
  const value = gm.getAttr(weight.target);
  const xMeta = tensorMetaOf(x);
  if (!(value instanceof Tensor) || !isFloating(value.dtype) || value.numel === 0 || !xMeta || !isFloating(xMeta.dtype)) return undefined;
  if (xMeta.shape.length === 0 || xMeta.shape.some((d) => d < 1)) return undefined;
  if (op === 'linear') return value.rank === 2 ? { node, op, x, xMeta, weight, value, axis: 0, transposedInput: false } : undefined;
  if (value.rank !== 2) return undefined; // a batched weight would broadcast against the activation's added dim
  const transposeOther = node.kwargs['transpose_other'] === true;
  const transposedInput = node.kwargs['transpose_input'] === true;
  return { node, op, x, xMeta, weight, value, axis: transposeOther ? 0 : 1, transposedInput };
}

/** Rewrites layers; the quantized activation is shared by every layer that reads the same input (Q, K, V projections). */
class Rewriter {
  readonly #gm: GraphModule;
  readonly #granularity: 'tensor' | 'token';
  /** dequantize(quantize(x)) by activation and form ('tensor' | 'token'). */
  readonly #activations = new Map<AnyNode, Map<'tensor' | 'token', AnyNode>>();
  /** dequantize(codes) by weight node and output-channel axis. */
  readonly #weights = new Map<AnyNode, Map<number, AnyNode>>();

  constructor(gm: GraphModule, granularity: 'tensor' | 'token') {
    this.#gm = gm;
    this.#granularity = granularity;
  }

  /** Replaces the layer by its dynamically quantized form. */
  rewrite(layer: Layer): void {
    const graph = this.#gm.graph;
    const { node, op } = layer;
    const name = node.name;
    const shape = layer.xMeta.shape;
    const form = this.#granularity === 'token' && !layer.transposedInput ? 'token' : 'tensor';
    graph.insertingBefore(node, () => {
      const xdq = this.#activation(layer, form);
      const wdq = this.#weight(layer);
      const y = emitAcc(graph, op, { ...node.kwargs, input: xdq, [op === 'linear' ? 'weight' : 'other']: wdq }, `${name}_int8`);
      const outShape = shapeOf(node.meta.tensorMeta);
      // Per token, the layer ran on the input flattened to rows: its output takes the layer's shape back.
      const out = form === 'token' && shape.length !== 2 && outShape ? emitAcc(graph, 'reshape', { input: y, shape: [...outShape] }, `${name}_reshape`) : y;
      out.meta = { ...node.meta, tensorMeta: out.meta.tensorMeta };
      node.replaceAllUsesWith(out);
      graph.eraseNode(node);
      graph.rename(out, name);
    });
    if (layer.weight.users.size === 0) graph.eraseNode(layer.weight);
  }

  /**
   * The activation quantized and dequantized: as it is (per tensor), or flattened to one row per
   * channel (per token); created before the first layer reading it.
   */
  #activation(layer: Layer, form: 'tensor' | 'token'): AnyNode {
    const { x, xMeta } = layer;
    const known = this.#activations.get(x)?.get(form);
    if (known) return known;
    const graph = this.#gm.graph;
    const base = x.name;
    const emit = (op: string, kwargs: Record<string, Argument>, suffix: string): AnyNode => emitAcc(graph, op, kwargs, `${base}_${suffix}`);
    const shape = xMeta.shape;
    const features = shape[shape.length - 1]!;
    const rows = shape.reduce((a, b) => a * b, 1) / features;
    const perToken = form === 'token';
    const xc = perToken && shape.length !== 2 ? emit('reshape', { input: x, shape: [-1, features] }, 'rows') : x;
    const amax = emit('amax', { input: emit('abs', { input: xc }, 'abs'), dim: perToken ? 1 : null }, 'amax');
    const scale = emit('clamp', { input: emit('div', { input: amax, other: QMAX }, 'scale'), min: MIN_DYNAMIC_SCALE }, 'scale_floor');
    const xq = perToken
      ? emit('quantize_per_channel', {
        input: xc, scales: scale, axis: 0, dtype: 'int8',
        zero_points: this.#constant(`${base}_zero_points`, Tensor.fromStorage(new BigInt64Array(rows), [rows], 'int64')),
      }, 'quantize')
      : emit('quantize_per_tensor', { input: xc, scale, zero_point: 0, dtype: 'int8' }, 'quantize');
    const xdq = emit('dequantize', { input: xq }, 'dequantize');
    let byForm = this.#activations.get(x);
    if (!byForm) this.#activations.set(x, (byForm = new Map()));
    byForm.set(form, xdq);
    return xdq;
  }

  /** The weight's int8 codes dequantized; created before the first layer reading it. */
  #weight(layer: Layer): AnyNode {
    const known = this.#weights.get(layer.weight)?.get(layer.axis);
    if (known) return known;
    const name = layer.node.name;
    const codes = this.#constant(`${name}_weight_int8`, quantizeWeight(layer.value, layer.axis));
    const wdq = emitAcc(this.#gm.graph, 'dequantize', { input: codes }, `${name}_weight_dequantize`);
    let byAxis = this.#weights.get(layer.weight);
    if (!byAxis) this.#weights.set(layer.weight, (byAxis = new Map()));
    byAxis.set(layer.axis, wdq);
    return wdq;
  }

  /** A get_attr of a new module constant, with its metadata. */
  #constant(base: string, t: Tensor): AnyNode {
    const n = this.#gm.graph.getAttr(this.#gm.addConstant(base, t));
    n.meta.tensorMeta = { shape: t.shape, dtype: t.dtype, ...(t.qparams ? { qparams: t.qparams } : {}) };
    return n;
  }
}

/**
 * Symmetric int8 codes of a float weight with one scale per index of `axis` (max |w| / 127, at
 * least MIN_DYNAMIC_SCALE), rounded half to even, carrying their qparams.
 *
 * @example
 * quantizeWeight(Tensor.fromArray([[0.5, -1], [2, 0.25]]), 0).toArray(); // [[64, -127], [127, 16]]
 */
export function quantizeWeight(w: Tensor, axis: number): Tensor {
  const channels = w.shape[axis]!;
  const values = w.toFloat64();
  const amax = new Float64Array(channels);
  let inner = 1;
  for (let d = axis + 1; d < w.rank; d++) inner *= w.shape[d]!;
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    amax[c] = Math.max(amax[c]!, Math.abs(values[i]!));
  }
  const scales = Float32Array.from(amax, (a) => Math.max(Math.fround(a / QMAX), MIN_DYNAMIC_SCALE));
  return quantizePerChannel(w, Tensor.fromStorage(scales, [channels], 'float32'), Tensor.fromStorage(new BigInt64Array(channels), [channels], 'int64'), axis, 'int8');
}

/** Adds an acc call at the insertion point with its metadata inferred from its inputs' metadata. */
function emitAcc(graph: Graph, op: string, kwargs: Record<string, Argument>, name: string): AnyNode {
  const acc = getAccOp(op);
  const metaKw: Record<string, unknown> = {};
  for (const p of acc.signature.params) if ('default' in p) metaKw[p.name] = p.default;
  for (const [k, v] of Object.entries(kwargs)) {
    if (!isNode(v)) {
      metaKw[k] = v;
      continue;
    }
    const m = tensorMetaOf(v);
    if (!m) throw new Error(`dynamicQuantize: '${v.name}' (argument '${k}' of acc.${op}) has no shape metadata`);
    metaKw[k] = m;
  }
  const n = graph.callFunction(acc, [], kwargs, name);
  n.meta.tensorMeta = acc.infer(metaKw);
  return n;
}

function shapeOf(m: ValueMeta | undefined): readonly number[] | undefined {
  return m !== null && typeof m === 'object' && !Array.isArray(m) && 'shape' in m ? m.shape : undefined;
}
