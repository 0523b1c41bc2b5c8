/**
 * The converter table: one converter per acc op, found by the op's name (fx2trt's
 * CONVERTERS). A converter adds layers to the network being built and returns what the
 * node's value is in the network; an optional capability check tells the splitter, before
 * any conversion, whether a particular node can be converted.
 */
import type { NetTensor } from '../engine/network.js';
import { isAccOp } from '../acc_ops/registry.js';
import type { AnyNode, Node } from '../ir/node.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ConversionContext } from './context.js';

/**
 * A resolved argument: graph values become NetTensors (tensors), numbers (static sizes) or arrays
 * of them; literals stay as they are. Arguments listed in a converter's `weights` arrive as the
 * module's Tensor when they are constants (get_attr), so their values can be folded.
 */
export type ConverterValue = NetTensor | Tensor | number | boolean | string | null | undefined | readonly ConverterValue[];

/** A node's resolved keyword arguments. */
export type ConverterArgs = Readonly<Record<string, ConverterValue>>;

/** What a node's value is in the network: a tensor, a static number, or a tuple of those. */
export type ConverterResult = NetTensor | number | readonly (NetTensor | number)[];

/** Adds the layers computing `node` to `ctx.network`; `args` are the node's resolved kwargs. */
export type Converter<A = ConverterArgs> = (ctx: ConversionContext, node: Node<'call_function'>, args: A) => ConverterResult;

/** Whether a node can be converted: true, or why not (naming what is unsupported). */
export type SupportCheck = (node: Node<'call_function'>) => true | string;

/** Options of registerConverter. */
export interface ConverterOptions {
  /** Capability check of one node, used by the splitter before conversion. */
  readonly supports?: SupportCheck;
  /** Arguments passed as the module's Tensor (not a constant layer) when they are get_attr values. */
  readonly weights?: readonly string[];
}

/** A registered converter. */
export interface ConverterEntry {
  /** The acc op name, without the 'acc.' prefix. */
  readonly op: string;
  readonly convert: Converter;
  readonly supports: SupportCheck | undefined;
  readonly weights: ReadonlySet<string>;
}

const converters = new Map<string, ConverterEntry>();

function bare(name: string): string {
  return name.startsWith('acc.') ? name.slice(4) : name;
}

/**
 * Registers the converter of an acc op; registering an op twice throws.
 *
 * @example
 * type ReluArgs = { input: NetTensor };
 * registerConverter<ReluArgs>('relu', (ctx, _node, { input }) =>
 *   ctx.layer1('activation', [input], { op: 'relu', alpha: 0, beta: 0 }));
 */
export function registerConverter<A extends ConverterArgs>(accOpName: string, converter: Converter<A>, opts: ConverterOptions = {}): void {
  const op = bare(accOpName);
  if (converters.has(op)) throw new Error(`a converter for acc.${op} is already registered`);
  // Each converter declares the argument shape its acc op guarantees (checked when the graph was built).
  const convert = converter as Converter;
  converters.set(op, { op, convert, supports: opts.supports, weights: new Set(opts.weights ?? []) });
}

/**
 * The converter of an acc op ('relu' or 'acc.relu'), or undefined when there is none.
 * @example getConverter('acc.conv2d')?.supports // the capability check, if it has one
 */
export function getConverter(accOpName: string): ConverterEntry | undefined {
  return converters.get(bare(accOpName));
}

/**
 * Whether an acc op ('relu' or 'acc.relu') has a converter.
 * @example hasConverter('relu') // true
 */
export function hasConverter(accOpName: string): boolean {
  return converters.has(bare(accOpName));
}

/** Names (without 'acc.') of every acc op with a converter, sorted. */
export function convertibleOps(): string[] {
  return [...converters.keys()].sort();
}

/**
 * Whether the network interpreter can convert `node` (used by the splitter): placeholders,
 * get_attr and output are structural; a call must be an acc op with a converter whose
 * capability check accepts the node.
 *
 * @example
 * converterSupport(node) // { supported: false, reason: 'acc.adaptive_avg_pool2d: input size 7 is not divisible by output size 3' }
 */
export function converterSupport(node: AnyNode): { supported: boolean; reason?: string } {
  switch (node.op) {
    case 'placeholder': case 'get_attr': case 'output': return { supported: true };
    case 'call_method': return { supported: false, reason: `method call '${node.target}' is not an acc op (run accTrace first)` };
    case 'call_module': return { supported: false, reason: `module call '${node.target}' is not an acc op (a leaf module runs outside the engine)` };
    case 'call_function': break;
  }
  const fn = node.target;
  if (!isAccOp(fn)) return { supported: false, reason: `'${fn.name}' is not an acc op` };
  const entry = converters.get(fn.accName);
  if (!entry) return { supported: false, reason: `no converter for ${fn.name}` };
  if (!entry.supports) return { supported: true };
  let verdict: true | string;
  try {
    verdict = entry.supports(node);
  } catch (e) {
    verdict = e instanceof Error ? e.message : String(e);
  }
  return verdict === true ? { supported: true } : { supported: false, reason: `${fn.name}: ${verdict}` };
}
