/** The GraphModule an ONNX import produces: the acc graph plus what the model said about its inputs. */
import type { Graph } from '../ir/graph.js';
import { GraphModule } from '../ir/graph_module.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { OnnxInputSpec } from './inputs.js';

/** A warning raised during import: what, and the node or tensor it is about. */
export interface OnnxWarning {
  readonly message: string;
  readonly node?: string;
  readonly tensor?: string;
}

/** Facts about the imported model. */
export interface OnnxModelInfo {
  readonly irVersion: number;
  /** The default-domain opset. */
  readonly opset: number;
  readonly producer: string;
  /** The ONNX names of the graph's inputs and outputs, in order. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Symbolic dims the graph had to be specialized to (its shape computations depend on them). */
  readonly specializedDims: readonly string[];
  readonly warnings: readonly OnnxWarning[];
}

/**
 * An imported ONNX model: runs on the reference interpreter like any GraphModule, and carries the
 * input specs (dynamic dims with min/opt/max ranges) that compiling it with dynamic shapes needs.
 *
 * @example
 * const gm = importOnnx('resnet18.onnx', { dims: { batch: { min: 1, opt: 8, max: 32 } } });
 * gm.inputSpecs[0]; // { name: 'input', shape: [-1, 3, 224, 224], shapeRanges: {...}, ... }
 */
export class OnnxGraphModule extends GraphModule {
  readonly inputSpecs: readonly OnnxInputSpec[];
  readonly onnx: OnnxModelInfo;

  constructor(root: Module | Record<string, Module | Tensor>, graph: Graph, className: string,
    inputSpecs: readonly OnnxInputSpec[], info: OnnxModelInfo) {
    super(root, graph, className);
    this.inputSpecs = inputSpecs;
    this.onnx = info;
  }
}
