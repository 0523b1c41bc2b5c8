/**
 * NetworkInterpreter (fx2trt's TRTInterpreter): walks an acc graph once and builds the
 * TensorRT-shaped network that computes it. Placeholders become network inputs (dynamic dims with
 * min/opt/max ranges), get_attr values become constants when a converter uses them, every acc
 * call goes through its converter, and the graph's outputs are marked as 'output0', 'output1', ...
 */
import type { NetTensor, ShapeRange } from '../engine/network.js';
import { NetworkDefinition } from '../engine/network_definition.js';
import type { GraphModule } from '../ir/graph_module.js';
import { Node, Slice, type AnyNode, type Argument } from '../ir/node.js';
import { isAccOp } from '../acc_ops/registry.js';
import type { DType } from '../tensor/dtype.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { ConversionContext, ConversionError, isNetTensor, type FloatPrecision } from './context.js';
import { argValue, tensorMetaOf } from './node_meta.js';
import { converterSupport, getConverter, type ConverterResult, type ConverterValue } from './registry.js';

/** The shape (-1 for dynamic dims), dtype and dynamic-dim ranges of one network input. */
export interface InputSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Required when `shape` has dynamic dims. */
  readonly shapeRanges?: ShapeRange;
}

/** Options of the NetworkInterpreter. */
export interface NetworkInterpreterOptions {
  /** The float type the network computes in (default 'float32'). */
  readonly precision?: FloatPrecision;
  /** The network's name (default: the module's class name). */
  readonly name?: string;
}

/** What `run()` produces: the network and the names and dtypes the lowered module exposes. */
export interface ConvertedNetwork {
  readonly network: NetworkDefinition;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The graph's output dtypes (the network casts its outputs back to them). */
  readonly outputDtypes: readonly DType[];
}

/** A graph node that no converter handles. */
export interface UnconvertibleNode {
  readonly node: string;
  readonly op: string;
  readonly reason: string;
}

/**
 * Thrown when nodes have no converter; lists every such node at once.
 * @example
 * try { interp.run(); } catch (e) { if (e instanceof MissingConverterError) console.log(e.nodes.map((n) => n.op)); }
 */
export class MissingConverterError extends Error {
  override name = 'MissingConverterError';
  readonly nodes: readonly UnconvertibleNode[];
  constructor(nodes: readonly UnconvertibleNode[]) {
    super(`no converter for ${nodes.length} node(s):\n${nodes.map((n) => `  %${n.node} (${n.op}): ${n.reason}`).join('\n')}`);
    this.nodes = nodes;
  }
}

type EnvValue = ConverterResult | Tensor;

function describeOp(n: AnyNode): string {
  return n.op === 'call_function' ? n.target.name : `${n.op} ${n.target}`;
}

/**
 * Converts an acc-traced GraphModule into a NetworkDefinition.
 *
 * @example
 * const acc = accTrace(model, [x]);
 * const { network, inputNames, outputNames } = new NetworkInterpreter(acc, [
 *   { shape: [-1, 3, 224, 224], dtype: 'float32', shapeRanges: { min: [1, 3, 224, 224], opt: [8, 3, 224, 224], max: [32, 3, 224, 224] } },
 * ], { precision: 'float16' }).run();
 * console.log(printNetwork(network));
 */
export class NetworkInterpreter {
  readonly module: GraphModule;
  readonly inputSpecs: readonly InputSpec[];
  readonly precision: FloatPrecision;
  readonly #name: string;

  constructor(module: GraphModule, inputSpecs?: readonly InputSpec[], opts: NetworkInterpreterOptions = {}) {
    this.module = module;
    this.precision = opts.precision ?? 'float32';
    this.#name = opts.name ?? module.className;
    this.inputSpecs = inputSpecs ?? module.graph.placeholders.map((p) => {
      const m = tensorMetaOf(p);
      if (!m) throw new TypeError(`input '${p.name}' has no shape metadata: pass input specs, or acc-trace the module with example inputs`);
      return { shape: m.shape, dtype: m.dtype };
    });
  }

  /** Every node of the graph that no converter handles (empty when the graph converts). */
  unconvertibleNodes(): UnconvertibleNode[] {
    const out: UnconvertibleNode[] = [];
    for (const n of this.module.graph.nodes()) {
      if (n.op === 'placeholder' || n.op === 'get_attr' || n.op === 'output') continue;
      const missing = n.op !== 'call_function' || !isAccOp(n.target) || getConverter(n.target.accName) === undefined;
      if (missing) out.push({ node: n.name, op: describeOp(n), reason: converterSupport(n).reason ?? 'no converter' });
    }
    return out;
  }

  /** Builds the network; throws MissingConverterError listing every node without a converter, or a ConversionError naming the node at fault. */
  run(): ConvertedNetwork {
    const missing = this.unconvertibleNodes();
    if (missing.length > 0) throw new MissingConverterError(missing);
    const network = new NetworkDefinition(this.#name);
    const ctx = new ConversionContext(network, this.module, this.precision);
    const env = new Map<AnyNode, EnvValue>();
    const placeholders = this.module.graph.placeholders;
    if (this.inputSpecs.length !== placeholders.length) {
      throw new RangeError(`the graph has ${placeholders.length} input(s) (${placeholders.map((p) => p.name).join(', ')}), got ${this.inputSpecs.length} input spec(s)`);
    }
    let outputs: { tensors: NetTensor[]; nodes: AnyNode[] } | undefined;
    for (const n of this.module.graph.nodes()) {
      switch (n.op) {
        case 'placeholder': {
          const spec = this.inputSpecs[placeholders.indexOf(n)]!;
          checkSpec(n, spec);
          ctx.enter('placeholder', n.name);
          const t = network.addInput(n.name, spec.dtype, spec.shape, spec.shapeRanges);
          env.set(n, ctx.cast(t, ctx.netType(spec.dtype)));
          break;
        }
        case 'get_attr': {
          const v = this.module.getAttr(n.target);
          if (!(v instanceof Tensor)) throw new ConversionError(n.name, 'get_attr', `'${n.target}' is not a tensor attribute of the module`);
          ctx.nameAttr(v, n.name);
          env.set(n, v);
          break;
        }
        case 'call_function':
          env.set(n, this.#convert(ctx, n, env));
          break;
        case 'output':
          outputs = collectOutputs(ctx, n, env);
          break;
        default:
          throw new ConversionError(n.name, describeOp(n), 'only acc ops can be converted');
      }
    }
    if (!outputs) throw new Error(`graph of '${this.#name}' has no output node`);
    const outputNames: string[] = [];
    const outputDtypes: DType[] = [];
    outputs.tensors.forEach((t0, i) => {
      const name = `output${i}`;
      ctx.enter('output', name);
      const want = tensorMetaOf(outputs!.nodes[i]!)?.dtype ?? t0.dtype;
      let t = ctx.cast(t0, want);
      // A tensor has one name: inputs and tensors already marked go through an identity layer.
      if (t.producer === null || network.outputs.includes(t)) t = ctx.layer1('identity', [t], {});
      network.markOutput(t, name);
      outputNames.push(name);
      outputDtypes.push(want);
    });
    network.removeDeadLayers();
    return { network, inputNames: placeholders.map((p) => p.name), outputNames, outputDtypes };
  }

  #convert(ctx: ConversionContext, n: Node<'call_function'>, env: Map<AnyNode, EnvValue>): ConverterResult {
    const fn = n.target;
    const entry = isAccOp(fn) ? getConverter(fn.accName) : undefined;
    if (!entry) throw new ConversionError(n.name, fn.name, 'no converter');
    ctx.enter(fn.name, n.name, n);
    const verdict = entry.supports ? entry.supports(n) : true;
    if (verdict !== true) ctx.fail(verdict);
    try {
      // Converters see every argument: defaults of the acc op's signature fill what the node leaves out.
      const args: Record<string, ConverterValue> = {};
      for (const p of fn.signature.params) args[p.name] = resolve(ctx, argValue(n, p.name), env, entry.weights.has(p.name));
      return entry.convert(ctx, n, args);
    } catch (e) {
      if (e instanceof ConversionError) throw e;
      throw new ConversionError(n.name, fn.name, e instanceof Error ? e.message : String(e), { cause: e });
    }
  }
}

/** Resolves an argument: nodes to their network values; get_attr tensors to constants unless `raw`. */
function resolve(ctx: ConversionContext, a: Argument, env: Map<AnyNode, EnvValue>, raw: boolean): ConverterValue {
  if (a instanceof Node) {
    const v = env.get(a as AnyNode);
    if (v === undefined) return ctx.fail(`input '${a.name}' has no value in the network`);
    if (v instanceof Tensor) return raw ? v : ctx.constant(v);
    return v;
  }
  if (Array.isArray(a)) return a.map((x: Argument) => resolve(ctx, x, env, raw));
  if (a instanceof Slice || (a !== null && typeof a === 'object')) return ctx.fail(`cannot convert argument ${String(a)}`);
  return a;
}

function checkSpec(n: Node<'placeholder'>, spec: InputSpec): void {
  const m = tensorMetaOf(n);
  if (!m) return;
  const where = `input '${n.name}'`;
  if (spec.dtype !== m.dtype) throw new TypeError(`${where}: spec dtype ${spec.dtype} differs from the traced ${m.dtype}`);
  if (spec.shape.length !== m.shape.length || spec.shape.some((d, i) => d !== -1 && d !== m.shape[i])) {
    throw new RangeError(`${where}: spec shape ${formatShape(spec.shape)} does not match the traced shape ${formatShape(m.shape)} (only dims given as -1 may differ)`);
  }
}

/** The output node's values as network tensors, with the graph node each came from. */
function collectOutputs(ctx: ConversionContext, out: Node<'output'>, env: Map<AnyNode, EnvValue>): { tensors: NetTensor[]; nodes: AnyNode[] } {
  const tensors: NetTensor[] = [];
  const nodes: AnyNode[] = [];
  const stack: Argument[] = [out.args[0]];
  ctx.enter('output', out.name);
  while (stack.length > 0) {
    const a = stack.pop();
    if (Array.isArray(a)) {
      for (let i = a.length - 1; i >= 0; i--) stack.push(a[i] as Argument);
      continue;
    }
    if (!(a instanceof Node)) throw new ConversionError(out.name, 'output', `output ${tensors.length} is ${String(a)}, not a tensor`);
    const v = env.get(a as AnyNode);
    if (v instanceof Tensor) tensors.push(ctx.constant(v));
    else if (isNetTensor(v)) tensors.push(v);
    else throw new ConversionError(out.name, 'output', `output ${tensors.length} ('${a.name}') is not a tensor in the network (got ${Array.isArray(v) ? 'a tuple' : String(v)})`);
    nodes.push(a as AnyNode);
  }
  return { tensors, nodes };
}
