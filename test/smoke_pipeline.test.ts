import { describe, expect, it } from 'vitest';
import '../src/acc_ops/ops/index.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { callFunction, callMethod, defineMethod } from '../src/acc_ops/dispatch.js';
import { defineSourceFunction } from '../src/acc_ops/mapping.js';
import { defineAccOp } from '../src/acc_ops/registry.js';
import { sig } from '../src/ir/signature.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { Module } from '../src/nn/module.js';
import { Tensor } from '../src/tensor/tensor.js';

defineAccOp<{ input: Tensor }>({
  name: 'smoke_neg', args: { input: { type: 'Tensor' } }, properties: ['pointwise', 'unary'],
  infer: ({ input }) => input,
  kernel: ({ input }) => Tensor.fromNumbers(input.toFloat64().map((v) => -v), input.shape, input.dtype),
});
const smokeNeg = defineSourceFunction('test.smoke_neg', sig('input'), { to: 'smoke_neg' });
defineMethod('smoke_neg', sig('input'), { to: 'smoke_neg' });
const neg = (x: Tensor) => callFunction(smokeNeg, [x]) as Tensor;

class Inner extends Module {
  override forward(x: Tensor) { return neg(x); }
}
class Net extends Module {
  inner = new Inner();
  override forward(x: Tensor) {
    const y = this.inner.forward(x) as Tensor;
    return callMethod('smoke_neg', y, []) as Tensor;
  }
}

describe('pipeline smoke', () => {
  it('traces, acc-traces and runs', () => {
    const m = new Net();
    const x = Tensor.fromArray([1, -2, 3]);
    expect((m.forward(x) as Tensor).toArray()).toEqual([1, -2, 3]);
    const gm = symbolicTrace(m);
    gm.lint();
    expect(gm.graph.toString()).toContain('call_function[target=test.smoke_neg]');
    expect(gm.graph.toString()).toContain('call_method[target=smoke_neg]');
    expect((gm.forward(x) as Tensor).toArray()).toEqual([1, -2, 3]);
    const acc = accTrace(gm, [x]);
    const ops = acc.graph.nodeList().filter((n) => n.op === 'call_function').map((n) => n.op === 'call_function' && n.target.name);
    expect(ops).toEqual(['acc.smoke_neg', 'acc.smoke_neg']);
    expect((acc.forward(x) as Tensor).toArray()).toEqual([1, -2, 3]);
    console.log(acc.graph.toString());
  });
});
