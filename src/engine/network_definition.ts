import type { DType } from '../tensor/dtype.js';
import type { Layer, LayerOf, LayerParamsMap, LayerType, NetTensor, ShapeRange } from './network.js';

/** Output dtype and shape rules of one layer type; throw naming the layer on inconsistent inputs. */
export type LayerInference<K extends LayerType> = (
  inputs: readonly NetTensor[], params: LayerParamsMap[K], layerName: string,
) => readonly { dtype: DType; shape: readonly number[] }[];

const inference = new Map<LayerType, LayerInference<LayerType>>();

/** Registers the shape/dtype rule of a layer type (see layer_inference.ts). */
export function registerLayerInference<K extends LayerType>(type: K, rule: LayerInference<K>): void {
  inference.set(type, rule as LayerInference<LayerType>);
}

export class NetworkError extends Error {
  override name = 'NetworkError';
}

/**
 * A network under construction (TensorRT's INetworkDefinition). Converters add layers;
 * every output tensor's dtype and shape are inferred when the layer is added, so a
 * malformed network fails at the layer at fault, naming it.
 *
 * @example
 * const net = new NetworkDefinition('mlp');
 * const x = net.addInput('x', 'float32', [-1, 512], { min: [1, 512], opt: [8, 512], max: [64, 512] });
 * const [y] = net.addLayer('activation', [x], { op: 'relu', alpha: 0, beta: 0 }, 'relu');
 * net.markOutput(y!, 'y');
 */
export class NetworkDefinition {
  readonly name: string;
  readonly inputs: NetTensor[] = [];
  readonly outputs: NetTensor[] = [];
  readonly layers: Layer[] = [];
  #nextTensor = 0;
  #nextLayer = 0;
  readonly #names = new Set<string>();
  readonly #layerSet = new Set<Layer>();
  readonly #inputSet = new Set<NetTensor>();

  constructor(name = 'network') {
    this.name = name;
  }

  /** A network input; dims of -1 are dynamic and need a min/opt/max range. */
  addInput(name: string, dtype: DType, shape: readonly number[], profile?: ShapeRange): NetTensor {
    if (this.inputs.some((t) => t.name === name)) throw new NetworkError(`network '${this.name}': input '${name}' is defined twice`);
    const dynamic = shape.some((d) => d === -1);
    if (dynamic && !profile) throw new NetworkError(`network input '${name}' has dynamic dims [${shape.join(', ')}] but no min/opt/max shape range`);
    if (profile) checkProfile(name, shape, profile);
    const t: NetTensor = { id: this.#nextTensor++, name, dtype, shape: [...shape], producer: null, ...(profile ? { profile } : {}) };
    this.inputs.push(t);
    this.#inputSet.add(t);
    return t;
  }

  /** Adds a layer and returns its output tensors (named `<layer name>_out<i>`). */
  addLayer<K extends LayerType>(type: K, inputs: readonly NetTensor[], params: LayerParamsMap[K], name?: string, source?: string): NetTensor[] {
    const layerName = this.#uniqueName(name ?? `${type}_${this.#nextLayer}`);
    for (const [i, t] of inputs.entries()) {
      if (!this.#owns(t)) throw new NetworkError(`layer '${layerName}': input ${i} ('${t.name}') does not belong to network '${this.name}'`);
    }
    const rule = inference.get(type);
    if (!rule) throw new NetworkError(`layer '${layerName}': no shape rule for layer type '${type}'`);
    let outs: readonly { dtype: DType; shape: readonly number[] }[];
    try {
      outs = rule(inputs, params, layerName);
    } catch (e) {
      if (e instanceof NetworkError) throw e;
      throw new NetworkError(`layer '${layerName}' (${type}): ${(e as Error).message}`);
    }
    const outputs: NetTensor[] = [];
    const layer = { id: this.#nextLayer++, name: layerName, type, inputs: [...inputs], outputs, params, ...(source ? { source } : {}) } as LayerOf<K>;
    for (const [i, o] of outs.entries()) {
      outputs.push({ id: this.#nextTensor++, name: outs.length === 1 ? `${layerName}_out` : `${layerName}_out${i}`, dtype: o.dtype, shape: [...o.shape], producer: layer as Layer });
    }
    this.layers.push(layer as Layer);
    this.#layerSet.add(layer as Layer);
    return outputs;
  }

  /** Marks a tensor as a network output under `name`. */
  markOutput(t: NetTensor, name?: string): void {
    if (!this.#owns(t)) throw new NetworkError(`markOutput: tensor '${t.name}' does not belong to network '${this.name}'`);
    if (name) t.name = name;
    if (this.outputs.some((o) => o.name === t.name)) throw new NetworkError(`network '${this.name}': output name '${t.name}' is used twice`);
    this.outputs.push(t);
  }

  /** All tensors: inputs, then each layer's outputs in order. */
  *tensors(): IterableIterator<NetTensor> {
    yield* this.inputs;
    for (const l of this.layers) yield* l.outputs;
  }

  /** Removes layers none of whose outputs are used by another layer or marked as outputs; returns how many. */
  removeDeadLayers(): number {
    const live = new Set<NetTensor>(this.outputs);
    const kept: Layer[] = [];
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      if (!l.outputs.some((o) => live.has(o))) { this.#layerSet.delete(l); continue; }
      kept.push(l);
      for (const t of l.inputs) live.add(t);
    }
    const removed = this.layers.length - kept.length;
    this.layers.splice(0, this.layers.length, ...kept.reverse());
    return removed;
  }

  #owns(t: NetTensor): boolean {
    return t.producer === null ? this.#inputSet.has(t) : this.#layerSet.has(t.producer);
  }

  #uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.#names.has(name); i++) name = `${base}_${i}`;
    this.#names.add(name);
    return name;
  }
}

function checkProfile(name: string, shape: readonly number[], p: ShapeRange): void {
  for (const [what, dims] of [['min', p.min], ['opt', p.opt], ['max', p.max]] as const) {
    if (dims.length !== shape.length) throw new NetworkError(`input '${name}': ${what} shape [${dims.join(', ')}] has rank ${dims.length}, expected ${shape.length}`);
    for (let i = 0; i < shape.length; i++) {
      if (shape[i] !== -1 && dims[i] !== shape[i]) throw new NetworkError(`input '${name}': ${what} dim ${i} is ${dims[i]} but the input's static dim is ${shape[i]}`);
    }
  }
  for (let i = 0; i < shape.length; i++) {
    if (!(p.min[i]! <= p.opt[i]! && p.opt[i]! <= p.max[i]!) || p.min[i]! < 0) {
      throw new NetworkError(`input '${name}': dim ${i} range must satisfy 0 <= min <= opt <= max, got ${p.min[i]} / ${p.opt[i]} / ${p.max[i]}`);
    }
  }
}
