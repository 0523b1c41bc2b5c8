/**
 * Reading a network: a deterministic one-line-per-layer listing, and the TypeScript source that
 * rebuilds the same network with the NetworkDefinition API (seed 002's "更好的方式 v2": lowered
 * networks as code a user can read, edit and run). Constants are referenced by layer name from a
 * weights map, which `networkWeights` extracts.
 */
import type { Layer, NetTensor } from '../engine/network.js';
import type { NetworkDefinition } from '../engine/network_definition.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** Constants with at most this many elements print their values. */
const SHOWN_VALUES = 6;

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return Object.is(v, -0) ? '-0' : String(v);
}

function typeOf(t: NetTensor): string {
  return `${t.dtype}${formatShape(t.shape)}`;
}

function printValue(v: unknown): string {
  if (v instanceof Tensor) {
    const head = `${v.dtype}${formatShape(v.shape)}`;
    return v.numel <= SHOWN_VALUES ? `${head}(${Array.from(v.toFloat64(), num).join(', ')})` : head;
  }
  if (Array.isArray(v)) return `[${v.map(printValue).join(', ')}]`;
  if (typeof v === 'number') return num(v);
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${printValue(x)}`).join(', ')}}`;
  return String(v);
}

function printParams(params: object): string {
  return Object.entries(params).map(([k, v]) => `${k}=${printValue(v)}`).join(', ');
}

/**
 * One layer: `name: type(params) (inputs) -> outputs`, tensors with dtype and shape.
 * @example printLayer(network.layers[0]!) // "[CAST]-[placeholder]-[x]: cast(toType=float16) (x: float32[-1, 3]) -> ..."
 */
export function printLayer(l: Layer): string {
  const ins = l.inputs.map((t) => `${t.name}: ${typeOf(t)}`).join(', ');
  const outs = l.outputs.map((t) => `${t.name}: ${typeOf(t)}`).join(', ');
  return `${l.name}: ${l.type}(${printParams(l.params)}) (${ins}) -> ${outs}`;
}

/**
 * The network as text: inputs with their shape ranges, one line per layer, outputs.
 * Deterministic, so tests compare it as text.
 *
 * @example
 * console.log(printNetwork(network));
 * // network 'mlp'
 * //   input x: float32[-1, 512] min=[1, 512] opt=[8, 512] max=[64, 512]
 * //   [ACTIVATION]-[acc.relu]-[relu]: activation(op=relu, alpha=0, beta=0) (x: float32[-1, 512]) -> ...
 */
export function printNetwork(network: NetworkDefinition): string {
  const lines = [`network '${network.name}'`];
  for (const t of network.inputs) {
    const p = t.profile;
    lines.push(`  input ${t.name}: ${typeOf(t)}${p ? ` min=${formatShape(p.min)} opt=${formatShape(p.opt)} max=${formatShape(p.max)}` : ''}`);
  }
  for (const l of network.layers) lines.push(`  ${printLayer(l)}`);
  for (const t of network.outputs) lines.push(`  output ${t.name}: ${typeOf(t)}`);
  return lines.join('\n');
}

/**
 * The value of every constant layer by layer name: the weights argument of emitted network source.
 * @example buildNetwork(networkWeights(network))
 */
export function networkWeights(network: NetworkDefinition): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const l of network.layers) if (l.type === 'constant') out[l.name] = l.params.value;
  return out;
}

/** Options of emitNetworkSource. */
export interface EmitOptions {
  /** Module the emitted code imports NetworkDefinition from (default 'fxrt'). */
  readonly importFrom?: string;
  /** Module the emitted code imports the Tensor type from (default: importFrom). */
  readonly tensorImportFrom?: string;
  /** Name of the emitted function (default 'buildNetwork'). */
  readonly functionName?: string;
}

const RESERVED = new Set(['net', 'weights', 'weight', 'NetworkDefinition', 'Tensor']);

/** Identifier names for tensors, from the node each layer came from (deterministic, unique). */
class Names {
  readonly #used = new Set<string>(RESERVED);
  readonly #of = new Map<NetTensor, string>();

  create(t: NetTensor, base: string): string {
    let id = base.replace(/[^A-Za-z0-9_$]/g, '_').replace(/^(?=[0-9])/, '_') || 't';
    if (/^(break|case|catch|class|const|continue|debugger|default|delete|do|else|export|extends|false|finally|for|function|if|import|in|instanceof|let|new|null|return|super|switch|this|throw|true|try|typeof|var|void|while|with|yield)$/.test(id)) id = `${id}_`;
    let name = id;
    for (let i = 1; this.#used.has(name); i++) name = `${id}_${i}`;
    this.#used.add(name);
    this.#of.set(t, name);
    return name;
  }

  of(t: NetTensor): string {
    const n = this.#of.get(t);
    if (n === undefined) throw new Error(`emitNetworkSource: tensor '${t.name}' is used before it is defined`);
    return n;
  }
}

/** A variable name for a layer's outputs: its node, plus the suffix of its name (`conv1_scale`). */
function varBase(l: Layer): string {
  const suffix = /\]_(\w+)$/.exec(l.name)?.[1];
  const base = l.source ?? l.type;
  return suffix ? `${base}_${suffix}` : base;
}

function emitValue(v: unknown, layerName: string): string {
  if (v instanceof Tensor) return `weight(${JSON.stringify(layerName)})`;
  if (Array.isArray(v)) return `[${v.map((x) => emitValue(x, layerName)).join(', ')}]`;
  if (typeof v === 'number') return num(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, x]) => `${k}: ${emitValue(x, layerName)}`).join(', ')} }`;
  }
  throw new TypeError(`emitNetworkSource: cannot emit a parameter of type ${typeof v} in layer '${layerName}'`);
}

/**
 * TypeScript source of a function that rebuilds `network` with the NetworkDefinition API: one
 * statement per input, layer and output, layer names and parameters as they are, constants
 * looked up by layer name in a weights map (see networkWeights).
 *
 * @example
 * writeFileSync('net.ts', emitNetworkSource(network));
 * const { buildNetwork } = await import('./net.js');
 * const copy = buildNetwork(networkWeights(network)); // printNetwork(copy) === printNetwork(network)
 */
export function emitNetworkSource(network: NetworkDefinition, opts: EmitOptions = {}): string {
  const from = opts.importFrom ?? 'fxrt';
  const tensorFrom = opts.tensorImportFrom ?? from;
  const fn = opts.functionName ?? 'buildNetwork';
  const names = new Names();
  const body: string[] = [];
  for (const t of network.inputs) {
    const p = t.profile;
    const range = p ? `, { min: ${emitValue(p.min, t.name)}, opt: ${emitValue(p.opt, t.name)}, max: ${emitValue(p.max, t.name)} }` : '';
    body.push(`const ${names.create(t, t.name)} = net.addInput(${JSON.stringify(t.name)}, ${JSON.stringify(t.dtype)}, ${emitValue(t.shape, t.name)}${range});`);
  }
  for (const l of network.layers) {
    const outs = l.outputs.map((t) => names.create(t, varBase(l))).join(', ');
    const ins = `[${l.inputs.map((t) => names.of(t)).join(', ')}]`;
    const args = [JSON.stringify(l.type), ins, emitValue(l.params, l.name), JSON.stringify(l.name)];
    if (l.source !== undefined) args.push(JSON.stringify(l.source));
    body.push(`const [${outs}] = net.addLayer(${args.join(', ')});`);
  }
  for (const t of network.outputs) body.push(`net.markOutput(${names.of(t)}, ${JSON.stringify(t.name)});`);
  const imports = tensorFrom === from
    ? [`import { NetworkDefinition, type Tensor } from ${JSON.stringify(from)};`]
    : [`import { NetworkDefinition } from ${JSON.stringify(from)};`, `import type { Tensor } from ${JSON.stringify(tensorFrom)};`];
  return [
    `// Network '${network.name}' as NetworkDefinition calls (generated by emitNetworkSource; edit freely).`,
    ...imports,
    '',
    `/** Builds network '${network.name}'; \`weights\` maps each constant layer's name to its value. */`,
    `export function ${fn}(weights: Readonly<Record<string, Tensor>>): NetworkDefinition {`,
    '  const weight = (name: string): Tensor => {',
    '    const t = weights[name];',
    '    if (t === undefined) throw new Error(`missing weight for constant layer \'${name}\'`);',
    '    return t;',
    '  };',
    `  const net = new NetworkDefinition(${JSON.stringify(network.name)});`,
    ...body.map((s) => `  ${s}`),
    '  return net;',
    '}',
    '',
  ].join('\n');
}
