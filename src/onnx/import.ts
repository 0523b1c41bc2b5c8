/**
 * importOnnx: an ONNX file (or its bytes) → an OnnxGraphModule of acc ops. Steps: parse (weights
 * stay views of the file), decode initializers, resolve input shapes, repair Q→Cast→DQ chains,
 * build the graph at the opt shapes, then check which symbolic dims the graph can stay dynamic in.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Graph } from '../ir/graph.js';
import type { GraphModule } from '../ir/graph_module.js';
import { formatArgument, formatKwargs, targetName } from '../ir/print.js';
import type { TensorMeta } from '../ir/node.js';
import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { onnxTypeInfo } from './dtypes.js';
import { OnnxError, withLocation, type OnnxLocation } from './errors.js';
import { ExternalDataReader } from './external_data.js';
import { buildGraph, type BuildContext } from './graph_builder.js';
import {
  declaredInput, inputSpecOf, resolveInputDims, type DeclaredDim, type DimRange, type InputShapeOptions, type OnnxInputSpec,
} from './inputs.js';
import { OnnxGraphModule, type OnnxWarning } from './module.js';
import { opsetVersions, parseOnnxModel } from './parser.js';
import type { GraphProto } from './proto/onnx_model_pb.js';
import { repairQdqCasts } from './qdq_repair.js';
import { tensorFromProto } from './tensor_proto.js';

/** The oldest default-domain opset the importer reads (older models: convert with onnx.version_converter). */
export const MIN_OPSET = 9;
/** The newest opset whose op forms the importer knows; newer models import with a warning. */
export const MAX_OPSET = 21;

/** Options of importOnnx. */
export interface ImportOnnxOptions extends InputShapeOptions {
  /** The folder external data files are relative to (default: the model file's folder; required for bytes with external data). */
  readonly baseDir?: string;
  /** Keep ops without a mapping as opaque 'onnx.<OpType>' nodes (for fallback partitions) instead of failing. */
  readonly allowUnsupported?: boolean;
  /** Repair QuantizeLinear → Cast(uint8) → DequantizeLinear chains (default true); see qdq_repair.ts. */
  readonly repairQdqCasts?: boolean;
  /** Receives each warning (default: none printed; they are also in `gm.onnx.warnings`). */
  readonly onWarning?: (w: OnnxWarning) => void;
  /** The module's class name (default: the ONNX graph's name). */
  readonly className?: string;
}

/**
 * Imports an ONNX model as a GraphModule of acc ops, checked and ready for the reference interpreter,
 * passes and compilation. Throws OnnxError naming the node (op type, opset) or tensor at fault.
 * Weights whose raw data is aligned share memory with the model bytes: do not modify those bytes.
 *
 * @example
 * const gm = importOnnx('model.onnx', { dims: { batch: 8 } });
 * const y = gm.forward(Tensor.randn([8, 3, 224, 224]));
 */
export function importOnnx(pathOrBytes: string | Uint8Array, options: ImportOnnxOptions = {}): OnnxGraphModule {
  let bytes: Uint8Array;
  let baseDir = options.baseDir;
  if (typeof pathOrBytes === 'string') {
    try {
      bytes = readFileSync(pathOrBytes);
    } catch (e) {
      throw new OnnxError(`cannot read model file '${pathOrBytes}': ${(e as Error).message}`, {}, { cause: e });
    }
    baseDir ??= dirname(pathOrBytes);
  } else {
    bytes = pathOrBytes;
  }
  const external = new ExternalDataReader(baseDir);
  try {
    return importModel(bytes, external, options);
  } catch (e) {
    if (e instanceof OnnxError) throw e;
    // Anything else is a bug or an exhausted resource; still report it as an import failure.
    throw new OnnxError(`import failed: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  } finally {
    external.close();
  }
}

function importModel(bytes: Uint8Array, external: ExternalDataReader, options: ImportOnnxOptions): OnnxGraphModule {
  const model = parseOnnxModel(bytes);
  const graph = model.graph!;
  const opsets = opsetVersions(model);
  const opset = opsets.get('')!;
  const warnings: OnnxWarning[] = [];
  const warn = (message: string, where: OnnxLocation): void => {
    const w: OnnxWarning = { message, ...(where.node !== undefined ? { node: where.node } : {}), ...(where.tensor !== undefined ? { tensor: where.tensor } : {}) };
    warnings.push(w);
    options.onWarning?.(w);
  };
  if (opset < MIN_OPSET) throw new OnnxError(`the model uses opset ${opset}; the importer supports opsets ${MIN_OPSET} to ${MAX_OPSET} (convert it with onnx.version_converter)`);
  if (opset > MAX_OPSET) warn(`the model uses opset ${opset}, newer than the importer knows (${MAX_OPSET}); ops are read in their opset-${MAX_OPSET} forms`, {});

  const initializers = readInitializers(graph, external);
  const inputs = readInputs(graph, initializers, options);
  if (options.repairQdqCasts ?? true) {
    const outputs = new Set(graph.output.map((o) => o.name));
    for (const r of repairQdqCasts(graph.node, constantTypeLookup(graph, initializers), outputs)) {
      warn(`repaired QuantizeLinear '${r.quantize}' → Cast(to=UINT8) '${r.cast}' → DequantizeLinear ${r.dequantize.map((d) => `'${d}'`).join(', ')}: `
        + `the DequantizeLinear now reads the int8 output and zero point of the QuantizeLinear (its scale is kept); as written, negative `
        + `quantized values would wrap to q + 256 and dequantize wrongly. Pass repairQdqCasts: false to import the chain as written.`, { node: r.cast });
    }
  }

  const context: Omit<BuildContext, 'inputs'> = {
    graph, opsets, initializers, valueInfo: valueInfoOf(graph), external, allowUnsupported: options.allowUnsupported ?? false, warn,
  };
  const className = options.className ?? (graph.name.replace(/[^A-Za-z0-9_]/g, '_') || 'OnnxModule');
  const built = buildGraph({ ...context, inputs: buildShapes(inputs) }, className);
  const specialized = specializeDims(inputs, built, (shapes) => buildGraph({ ...context, warn: () => {}, inputs: shapes }, className), warn);

  const specs: OnnxInputSpec[] = [...inputs].map(([name, d]) => inputSpecOf(name, d.dtype, d.ranges, d.dims));
  const out = new OnnxGraphModule(attributesOf(built), built.graph, className, specs, {
    irVersion: Number(model.irVersion), opset, producer: `${model.producerName} ${model.producerVersion}`.trim(),
    inputNames: [...inputs.keys()], outputNames: graph.output.map((o) => o.name), specializedDims: specialized, warnings,
  });
  out.training = false;
  out.lint();
  return out;
}

function readInitializers(graph: GraphProto, external: ExternalDataReader): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of graph.initializer) {
    if (out.has(t.name)) throw new OnnxError('initializer is defined twice', { tensor: t.name });
    out.set(t.name, withLocation({ tensor: t.name }, () => tensorFromProto(t, external)));
  }
  if (graph.sparseInitializer.length > 0) throw new OnnxError('sparse initializers are not supported', { tensor: graph.sparseInitializer[0]!.values?.name ?? '' });
  return out;
}

/** A graph input: its type, declared dims, and the range each dim may take. */
interface GraphInput {
  readonly dtype: DType;
  readonly dims: readonly DeclaredDim[];
  ranges: DimRange[];
}

function readInputs(graph: GraphProto, initializers: ReadonlyMap<string, Tensor>, options: InputShapeOptions): Map<string, GraphInput> {
  const out = new Map<string, GraphInput>();
  for (const v of graph.input) {
    if (initializers.has(v.name)) continue; // IR < 4 lists initializers as inputs: they stay constants
    if (out.has(v.name)) throw new OnnxError('graph input is declared twice', { tensor: v.name });
    const { dtype, dims } = declaredInput(v);
    out.set(v.name, { dtype, dims, ranges: resolveInputDims(v.name, dims, options) });
  }
  for (const name of Object.keys(options.inputShapes ?? {})) {
    if (!out.has(name)) throw new OnnxError(`inputShapes names '${name}', which is not an input of the graph (inputs: ${[...out.keys()].join(', ')})`);
  }
  return out;
}

type InputShapes = Map<string, { dtype: DType; shape: number[] }>;

/** The shapes to build at: every dim at its opt size, except symbolic dim `override.key`. */
function buildShapes(inputs: ReadonlyMap<string, GraphInput>, override?: { key: string; size: number }): InputShapes {
  const m: InputShapes = new Map();
  for (const [name, d] of inputs) {
    const shape = d.ranges.map((r, i) => {
      const dim = d.dims[i]!;
      return override && typeof dim !== 'number' && dimKey(name, i, dim) === override.key ? override.size : r.opt;
    });
    m.set(name, { dtype: d.dtype, shape });
  }
  return m;
}

/**
 * A symbolic dim stays dynamic only if building at another size gives the same graph; the others
 * are fixed at their opt size (their ranges collapse) with a warning. Returns the fixed dims.
 */
function specializeDims(inputs: Map<string, GraphInput>, built: GraphModule, rebuild: (shapes: InputShapes) => GraphModule,
  warn: (message: string, where: OnnxLocation) => void): string[] {
  const specialized: string[] = [];
  const reference = structureOf(built);
  for (const [key, range] of dynamicDims(inputs)) {
    const probe = range.opt + 1 <= range.max ? range.opt + 1 : range.opt - 1;
    let why: string;
    try {
      if (structureOf(rebuild(buildShapes(inputs, { key, size: probe }))) === reference) continue;
      why = `the graph's shape computations depend on dim '${key}'`;
    } catch (e) {
      if (!(e instanceof OnnxError)) throw e;
      why = `the graph cannot be built with dim '${key}' = ${probe} (${e.message})`;
    }
    specialized.push(key);
    for (const [name, d] of inputs) {
      d.ranges = d.ranges.map((r, i) => {
        const dim = d.dims[i]!;
        return typeof dim !== 'number' && dimKey(name, i, dim) === key ? { min: r.opt, opt: r.opt, max: r.opt } : r;
      });
    }
    warn(`${why}; it was specialized to ${range.opt} (import again with dims/inputShapes for another size)`, {});
  }
  return specialized;
}

/** A symbolic dim's identity: its dim_param, or input:index for an unnamed one. */
function dimKey(input: string, index: number, d: { param: string | null }): string {
  return d.param ?? `${input}[${index}]`;
}

function dynamicDims(inputs: ReadonlyMap<string, GraphInput>): Map<string, DimRange> {
  const out = new Map<string, DimRange>();
  for (const [name, d] of inputs) {
    d.dims.forEach((dim, i) => {
      const r = d.ranges[i]!;
      if (typeof dim === 'number' || r.min === r.max) return;
      const key = dimKey(name, i, dim);
      if (!out.has(key)) out.set(key, r);
    });
  }
  return out;
}

/** A text form of the graph without shapes: equal for two builds iff they compute the same way. */
function structureOf(gm: GraphModule): string {
  const lines: string[] = [];
  const g: Graph = gm.graph;
  for (const n of g.nodes()) {
    let line = `${n.name}=${n.op}:${targetName(n)}(${n.args.map(formatArgument).join(',')})${formatKwargs(n.kwargs)}`;
    if (n.op === 'get_attr') {
      const t = gm.getAttr(n.target);
      if (t instanceof Tensor && t.numel <= 4096) line += `[${t.shape.join(',')}]${Array.from(t.toFloat64()).join(',')}`;
      else if (t instanceof Tensor) line += `[${t.shape.join(',')}]`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/** Element types of constants by name (initializers and Constant outputs), for the Q/DQ repair. */
function constantTypeLookup(graph: GraphProto, initializers: ReadonlyMap<string, Tensor>): (name: string) => number | undefined {
  const constants = new Map<string, number>();
  for (const n of graph.node) {
    if (n.opType !== 'Constant') continue;
    const v = n.attribute.find((a) => a.name === 'value');
    if (v?.t !== undefined && n.output[0] !== undefined) constants.set(n.output[0], v.t.dataType);
  }
  const byName = new Map(graph.initializer.map((t) => [t.name, t.dataType]));
  return (name) => (initializers.has(name) ? byName.get(name) : constants.get(name));
}

/** Declared types of values (value_info and graph outputs) with fully known shapes. */
function valueInfoOf(graph: GraphProto): Map<string, TensorMeta> {
  const out = new Map<string, TensorMeta>();
  for (const v of [...graph.valueInfo, ...graph.output]) {
    const t = v.type?.value;
    if (t?.case !== 'tensorType' || t.value.shape === undefined) continue;
    const info = onnxTypeInfo(t.value.elemType);
    const dims = t.value.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : -1));
    if (info && dims.every((d) => d >= 0)) out.set(v.name, { shape: dims, dtype: info.dtype });
  }
  return out;
}

/** The tensors a built module holds, by attribute path. */
function attributesOf(gm: GraphModule): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const n of gm.graph.nodes()) {
    if (n.op !== 'get_attr') continue;
    const t = gm.getAttr(n.target);
    if (t instanceof Tensor) out[n.target] = t;
  }
  return out;
}
