import { describe, expect, it } from 'vitest';
import * as fxrt from '../src/index.js';
import { Tensor, allClose, cosineSimilarity, maxAbsDiff, symbolicTrace, wrap, accTrace, F } from '../src/index.js';

describe('public API', () => {
  it('exports the foundation from the main entry', () => {
    for (const name of ['Tensor', 'nn', 'F', 'symbolicTrace', 'Graph', 'Node', 'GraphModule', 'Interpreter', 'accTrace', 'PassManager',
      'replaceMutableOps', 'constFold', 'eliminateDeadCode', 'cse', 'foldBatchNorm', 'fusePermuteMatmul', 'removeNoOps', 'replacePattern',
      'ShapeProp', 'defaultPasses', 'acc', 'wrap', 'allClose', 'models', 'modelZoo']) {
      expect(fxrt, name).toHaveProperty(name);
    }
  });

  it('allClose, maxAbsDiff and cosineSimilarity', () => {
    const a = Tensor.fromArray([1, 2, NaN]);
    const b = Tensor.fromArray([1, 2.00001, NaN]);
    expect(allClose(a, b)).toBe(false);
    expect(allClose(a, b, { equalNan: true })).toBe(true);
    expect(allClose(a, b, { equalNan: true, rtol: 1e-7, atol: 0 })).toBe(false);
    expect(allClose(Tensor.fromArray([1]), Tensor.fromArray([1, 1]))).toBe(false);
    expect(maxAbsDiff(Tensor.fromArray([1, 2]), Tensor.fromArray([1.5, 2]))).toBe(0.5);
    expect(cosineSimilarity(Tensor.fromArray([1, 0]), Tensor.fromArray([0, 1]))).toBe(0);
    expect(cosineSimilarity(Tensor.fromArray([1, 2]), Tensor.fromArray([2, 4]))).toBeCloseTo(1, 12);
  });

  it('wrap records a leaf call_function and stays outside acc ops', () => {
    const double = wrap('test.public_api.double', (x: Tensor) => x.mul(2));
    const fn = (x: Tensor) => F.relu(double(x));
    const x = Tensor.fromArray([-1, 2]);
    expect((fn(x)).toArray()).toEqual([0, 4]);
    const gm = symbolicTrace(fn);
    expect(gm.graph.toString()).toContain('call_function[target=test.public_api.double]');
    const acc = accTrace(gm, [x]);
    const targets = acc.graph.nodeList().flatMap((n) => (n.op === 'call_function' ? [n.target.name] : []));
    expect(targets).toEqual(['test.public_api.double', 'acc.relu']);
    expect((acc.forward(x) as Tensor).toArray()).toEqual([0, 4]);
  });
});
