/**
 * What compile() returns: the split module with its acc parts replaced by engines, run
 * asynchronously (cpu parts on the Interpreter, engines through EngineModule.run), with the
 * split preview, the engines, the accuracy check, the quantization report of an int8 compile and
 * save/load of the whole.
 */
import type { BackendName, BuilderPrecision } from '../engine/plan.js';
import { GraphModule } from '../ir/graph_module.js';
import type { Module } from '../nn/module.js';
import type { QuantizationReport } from '../quantization/report.js';
import { quantizationReportFromJSON } from '../quantization/report_json.js';
import type { Tensor } from '../tensor/tensor.js';
import type { SplitPreview } from '../splitter/preview.js';
import { previewFromJSON } from '../splitter/preview_json.js';
import { accuracyFromJSON, type AccuracyReport } from './accuracy.js';
import { readFrame, SavedFormatError, writeFrame } from './container.js';
import { EngineModule } from './engine_module.js';
import { checkModelInputs, decodeInputSpecs, type ModelInputSpec } from './input_check.js';
import { decodeSplitGraph, encodeSplitGraph } from './split_graph_codec.js';
import { flattenTensors, runSplitModule } from './split_runner.js';

const MAGIC = 'FXLM';
/** Format version of `LoweredModule.save()`. */
export const LOWERED_MODULE_VERSION = 1;

/** Everything a LoweredModule is made of. */
export interface LoweredModuleInit {
  /** The split module: call_module targets are EngineModules (acc parts) and GraphModules (cpu parts). */
  readonly split: GraphModule;
  readonly inputs: readonly ModelInputSpec[];
  readonly precision: BuilderPrecision;
  readonly backend: BackendName;
  /** What runs the engines, in words ("reference TypeScript backend on the CPU ..."). */
  readonly backendDescription: string;
  readonly splitPreview: SplitPreview;
  readonly validation?: AccuracyReport;
  readonly quantization?: QuantizationReport;
}

/**
 * A lowered model (fx2trt's lowered split module). `run` never blocks on engines: it awaits
 * each one in turn and runs the cpu parts in between.
 *
 * @example
 * const lowered = await compile(model, [x], { precision: 'fp32', device: 'cpu' });
 * const [y] = await lowered.run([x]);
 * console.log(lowered.splitPreview.toString());
 * const again = LoweredModule.load(lowered.save());
 *
 * const int8 = await compile(model, [x], { precision: 'int8', calibration: { data: batches } });
 * console.log(formatQuantizationReport(int8.quantization!)); // which layers stayed in float, and why
 */
export class LoweredModule {
  readonly split: GraphModule;
  readonly inputs: readonly ModelInputSpec[];
  readonly precision: BuilderPrecision;
  readonly backend: BackendName;
  readonly backendDescription: string;
  readonly splitPreview: SplitPreview;
  /** The accuracy check against the reference interpreter, when compile ran it. */
  readonly validation: AccuracyReport | undefined;
  /**
   * What post-training quantization did, when compile quantized the model (precision 'int8' on a
   * float graph): the calibration (method, data, batches), each layer's precision (the layers kept
   * in float and why), the activation scales and the sensitivity analysis when it ran. Undefined
   * otherwise, e.g. for a graph that carries its own Q/DQ (its engines' build reports list the
   * Q/DQ that did not fuse). Saved and loaded with the module.
   */
  readonly quantization: QuantizationReport | undefined;

  constructor(init: LoweredModuleInit) {
    this.split = init.split;
    this.inputs = init.inputs;
    this.precision = init.precision;
    this.backend = init.backend;
    this.backendDescription = init.backendDescription;
    this.splitPreview = init.splitPreview;
    this.validation = init.validation;
    this.quantization = init.quantization;
  }

  /** The engine of every acc part, by part name, in execution order. */
  get engines(): ReadonlyMap<string, EngineModule> {
    const out = new Map<string, EngineModule>();
    for (const [name, m] of this.#parts()) if (m instanceof EngineModule) out.set(name, m);
    return out;
  }

  /** The GraphModule of every cpu part, by part name, in execution order. */
  get cpuParts(): ReadonlyMap<string, GraphModule> {
    const out = new Map<string, GraphModule>();
    for (const [name, m] of this.#parts()) if (m instanceof GraphModule) out.set(name, m);
    return out;
  }

  #parts(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const n of this.split.graph.nodes()) if (n.op === 'call_module') out.push([n.target, this.split.getSubmodule(n.target)]);
    return out;
  }

  /**
   * Runs the model; resolves to its outputs as a flat list. Rejects with an InputMismatchError
   * naming the input when the count, a dtype or a shape (outside the profile) is wrong.
   */
  async run(inputs: readonly Tensor[]): Promise<Tensor[]> {
    checkModelInputs(this.inputs, inputs);
    return flattenTensors(await runSplitModule(this.split, inputs), 'lowered module output');
  }

  /** A copy with a different accuracy report (compile attaches its validation). */
  withValidation(validation: AccuracyReport): LoweredModule {
    return new LoweredModule({ ...this.#init(), validation });
  }

  #init(): LoweredModuleInit {
    return {
      split: this.split, inputs: this.inputs, precision: this.precision, backend: this.backend,
      backendDescription: this.backendDescription, splitPreview: this.splitPreview,
      ...(this.validation ? { validation: this.validation } : {}),
      ...(this.quantization ? { quantization: this.quantization } : {}),
    };
  }

  /**
   * The whole lowered module in one checksummed file: the split graph, each cpu part
   * (GraphModule.save), each engine (EngineModule.save), the preview and the input specs.
   */
  save(): Uint8Array {
    const { nodes, constants } = encodeSplitGraph(this.split);
    const sections: Uint8Array[] = [];
    const parts = this.#parts().map(([name, m]) => {
      const bytes = m instanceof EngineModule ? m.save() : m instanceof GraphModule ? m.save() : undefined;
      if (!bytes) throw new SavedFormatError(`part '${name}' is neither an engine nor a graph module`);
      sections.push(bytes);
      return { name, kind: m instanceof EngineModule ? 'engine' : 'graph', section: sections.length - 1 };
    });
    let constantsSection: number | null = null;
    if (constants) {
      sections.push(constants.save());
      constantsSection = sections.length - 1;
    }
    const header = {
      className: this.split.className, precision: this.precision, backend: this.backend, backendDescription: this.backendDescription,
      inputs: this.inputs, graph: nodes, parts, constants: constantsSection, preview: this.splitPreview.toJSON(),
      validation: this.validation ?? null, quantization: this.quantization ?? null,
    };
    return writeFrame(MAGIC, LOWERED_MODULE_VERSION, header, sections);
  }

  /**
   * Loads a module saved with `save()`; truncated or corrupted bytes are rejected with an error
   * that says what is wrong. Engines load onto the backend they were built for; the cpu parts'
   * weights share memory with `bytes` (as GraphModule.load), so do not modify `bytes` afterwards.
   *
   * @example
   * const lowered = LoweredModule.load(readFileSync('model.fxlm'));
   */
  static load(bytes: Uint8Array): LoweredModule {
    const { header, sections } = readFrame(bytes, MAGIC, LOWERED_MODULE_VERSION, 'saved lowered module');
    const parts = new Map<string, Module>();
    const rawParts = header['parts'];
    if (!Array.isArray(rawParts)) throw new SavedFormatError(`saved lowered module: 'parts' is missing`);
    for (const p of rawParts) {
      const name: unknown = p !== null && typeof p === 'object' ? Reflect.get(p, 'name') : undefined;
      const kind: unknown = p !== null && typeof p === 'object' ? Reflect.get(p, 'kind') : undefined;
      const index: unknown = p !== null && typeof p === 'object' ? Reflect.get(p, 'section') : undefined;
      const section = typeof index === 'number' ? sections[index] : undefined;
      if (typeof name !== 'string' || section === undefined || (kind !== 'engine' && kind !== 'graph')) {
        throw new SavedFormatError(`saved lowered module: part entry ${JSON.stringify(p)} is invalid`);
      }
      parts.set(name, kind === 'engine' ? EngineModule.load(section) : GraphModule.load(section));
    }
    const cIndex = header['constants'];
    const constants = typeof cIndex === 'number' && sections[cIndex] ? GraphModule.load(sections[cIndex]) : null;
    const className = typeof header['className'] === 'string' ? header['className'] : 'LoweredModule';
    const split = decodeSplitGraph(header['graph'], parts, constants, className);
    const precision = header['precision'];
    const backend = header['backend'];
    const description = header['backendDescription'];
    if (!isPrecision(precision) || (backend !== 'reference' && backend !== 'cuda') || typeof description !== 'string') {
      throw new SavedFormatError(`saved lowered module: precision/backend fields are invalid`);
    }
    try {
      const validation = header['validation'];
      // Absent from modules saved before the report was kept.
      const quantization = header['quantization'] ?? null;
      return new LoweredModule({
        split, precision, backend, backendDescription: description,
        inputs: decodeInputSpecs(header['inputs']),
        splitPreview: previewFromJSON(header['preview']),
        ...(validation !== null ? { validation: accuracyFromJSON(validation) } : {}),
        ...(quantization !== null ? { quantization: quantizationReportFromJSON(quantization) } : {}),
      });
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      throw new SavedFormatError(`saved lowered module: ${e.message}`);
    }
  }

  toString(): string {
    const engines = [...this.engines.keys()];
    return `LoweredModule(${this.precision}, ${this.backendDescription}; engines: ${engines.join(', ') || 'none'})\n${this.split.graph.toString()}`;
  }
}

function isPrecision(v: unknown): v is BuilderPrecision {
  return v === 'fp32' || v === 'fp16' || v === 'bf16' || v === 'int8' || v === 'fp8';
}
