/**
 * Observers run the float model on a calibration batch and hand over the value of every tensor
 * that will be quantized. Two exist: the reference interpreter (everywhere) and an engine built
 * from the same graph with the observed tensors as extra outputs (compile() uses it with the
 * CUDA backend, so calibration runs on the GPU when there is one).
 */
import { Interpreter } from '../ir/interpreter.js';
import type { GraphModule } from '../ir/graph_module.js';
import type { AnyNode } from '../ir/node.js';
import { Tensor } from '../tensor/tensor.js';
import { copyGraphModule } from './graph_copy.js';

/** Receives one observed tensor of the current batch. */
export type ObservationSink = (tensor: string, value: Tensor) => void;

/** Runs the float model on a batch and passes every observed tensor to `sink`. */
export interface TensorObserver {
  /** Where the model runs, in words. */
  readonly where: string;
  observe(batch: readonly Tensor[], sink: ObservationSink): Promise<void>;
}

/** Makes an observer of the named tensors (node names) of an acc graph. */
export type ObserverFactory = (gm: GraphModule, tensors: readonly string[]) => TensorObserver;

/** Something that runs a lowered graph: a LoweredModule, for one. */
export interface GraphRunner {
  run(inputs: readonly Tensor[]): Promise<Tensor[]>;
}

/** Lowers a graph to something runnable for inputs shaped like `example` (compile with fp32 engines). */
export type LowerForObservation = (gm: GraphModule, example: readonly Tensor[]) => Promise<GraphRunner>;

function expectTensor(name: string, v: unknown): Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`calibration: the observed value '${name}' is not a tensor`);
  return v;
}

/** Passes the batch's own tensors for the observed graph inputs. */
function observeInputs(gm: GraphModule, watched: ReadonlySet<string>, batch: readonly Tensor[], sink: ObservationSink): void {
  gm.graph.placeholders.forEach((p, i) => {
    if (watched.has(p.name) && i < batch.length) sink(p.name, batch[i]!);
  });
}

/** The Interpreter, reporting watched values as they are computed (before they are freed). */
class ObservingInterpreter extends Interpreter {
  readonly #watched: ReadonlySet<string>;
  readonly #sink: ObservationSink;
  constructor(gm: GraphModule, watched: ReadonlySet<string>, sink: ObservationSink) {
    super(gm);
    this.#watched = watched;
    this.#sink = sink;
  }
  override runNode(n: AnyNode): unknown {
    const v = super.runNode(n);
    if (this.#watched.has(n.name)) this.#sink(n.name, expectTensor(n.name, v));
    return v;
  }
}

/**
 * Observes on the reference interpreter: runs the graph node by node and reports each watched
 * value when it is computed, so no more activations are alive than a plain run keeps.
 *
 * @example
 * const obs = interpreterObserver(gm, ['x', 'relu']);
 * await obs.observe([x], (name, t) => console.log(name, t.shape));
 */
export const interpreterObserver: ObserverFactory = (gm, tensors) => {
  const watched = new Set(tensors);
  return {
    where: 'the reference interpreter',
    observe: (batch, sink) => {
      observeInputs(gm, watched, batch, sink);
      new ObservingInterpreter(gm, watched, sink).run(...batch);
      return Promise.resolve();
    },
  };
};

/**
 * An observer factory that lowers a copy of the graph whose outputs are the observed tensors
 * (graph inputs are read from the batch directly) and runs it; one lowering per distinct set of
 * input shapes. compile() passes a `lower` that builds float engines (fp32, or fp16/bf16 for 16-bit inputs) on the CUDA backend.
 *
 * @example
 * const onGpu = engineObserver((g, example) => compile(g, example, { device: 'cuda', passes: [] }), 'fp32 CUDA engines');
 * await collectAmax(gm, tensors, data, { spec: methodSpec('entropy'), observer: onGpu(gm, tensors), example: [x] });
 */
export function engineObserver(lower: LowerForObservation, where: string): ObserverFactory {
  return (gm, tensors) => {
    const watched = new Set(tensors);
    const inputs = new Set(gm.graph.placeholders.map((p) => p.name));
    const computed = tensors.filter((t) => !inputs.has(t));
    const probe = computed.length > 0 ? copyGraphModule(gm, computed) : undefined;
    const runners = new Map<string, Promise<GraphRunner>>();
    return {
      where,
      observe: async (batch, sink) => {
        observeInputs(gm, watched, batch, sink);
        if (!probe) return;
        const key = batch.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(';');
        let runner = runners.get(key);
        if (!runner) runners.set(key, (runner = lower(probe, batch)));
        const outs = await (await runner).run(batch);
        if (outs.length !== computed.length) {
          throw new Error(`calibration: the observation engine returned ${outs.length} tensor(s), expected ${computed.length}`);
        }
        computed.forEach((name, i) => sink(name, outs[i]!));
      },
    };
  };
}
