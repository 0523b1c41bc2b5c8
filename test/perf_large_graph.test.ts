import { describe, expect, it } from 'vitest';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import type { GraphModule } from '../src/ir/graph_module.js';
import { targetName } from '../src/ir/print.js';
import { symbolicTrace } from '../src/ir/tracer.js';
import { F } from '../src/nn/functional.js';
import { defaultPasses } from '../src/passes/index.js';
import { PassManager } from '../src/passes/pass_manager.js';
import { Tensor } from '../src/tensor/tensor.js';

/** The stated requirement: trace + accTrace + default passes of a 20,000-node graph within 2 s. */
const BUDGET_MS = 2000;

/** x → add 1 → relu → add 1 → relu ... (10,000 of each). */
function chain(x: Tensor): Tensor {
  let v = x;
  for (let i = 0; i < 10_000; i++) v = F.relu(v.add(1));
  return v;
}

const BRANCHES = 6_667;
/** 6,667 branches relu(x * (i + 2)) from one input, merged by a balanced tree of 6,666 adds. */
function wide(x: Tensor): Tensor {
  let level: Tensor[] = [];
  for (let i = 0; i < BRANCHES; i++) level.push(F.relu(x.mul(i + 2)));
  while (level.length > 1) {
    const next: Tensor[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(F.add(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** Runs the whole front end, timing it; returns the optimized module and the elapsed milliseconds. */
function compileTimed(fn: (x: Tensor) => Tensor, x: Tensor): { gm: GraphModule; ms: number; traced: number } {
  const t0 = performance.now();
  const traced = symbolicTrace(fn);
  const acc = accTrace(traced, [x]);
  const { gm } = new PassManager(defaultPasses()).run(acc);
  const ms = performance.now() - t0;
  return { gm, ms, traced: traced.graph.length };
}

function histogram(gm: GraphModule): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of gm.graph.nodes()) {
    const k = n.op === 'call_function' ? targetName(n) : n.op;
    h[k] = (h[k] ?? 0) + 1;
  }
  return h;
}

describe('large graphs', () => {
  it(`traces, acc-traces and optimizes a 20,000-node chain in under ${BUDGET_MS} ms`, () => {
    const x = Tensor.fromArray([-3, -0.5, 0.5, 2]);
    const { gm, ms, traced } = compileTimed(chain, x);
    expect(traced).toBe(20_002);
    gm.lint();
    expect(histogram(gm)).toEqual({ placeholder: 1, 'acc.add': 10_000, 'acc.relu': 10_000, output: 1 });
    expect([...(gm.forward(x) as Tensor).toFloat64()]).toEqual([...chain(x).toFloat64()]);
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  it(`traces, acc-traces and optimizes a 20,000-node wide DAG in under ${BUDGET_MS} ms`, () => {
    const x = Tensor.fromArray([-1, 0.25, 1e-3]);
    const { gm, ms, traced } = compileTimed(wide, x);
    expect(traced).toBe(3 * BRANCHES + 1);
    gm.lint();
    expect(histogram(gm)).toEqual({ placeholder: 1, 'acc.mul': BRANCHES, 'acc.relu': BRANCHES, 'acc.add': BRANCHES - 1, output: 1 });
    const got = (gm.forward(x) as Tensor).toFloat64();
    const want = wide(x).toFloat64();
    expect([...got]).toEqual([...want]);
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  it('merges 10,000 duplicate branches of a 30,000-node graph within the same budget', () => {
    const x = Tensor.fromArray([1, -2]);
    const dup = (v: Tensor): Tensor => {
      let acc = v;
      for (let i = 0; i < 10_000; i++) acc = F.add(acc, F.relu(v)); // relu(v) repeated: CSE keeps one
      return acc;
    };
    const { gm, ms } = compileTimed(dup, x);
    gm.lint();
    expect(histogram(gm)).toEqual({ placeholder: 1, 'acc.relu': 1, 'acc.add': 10_000, output: 1 });
    expect([...(gm.forward(x) as Tensor).toFloat64()]).toEqual([...dup(x).toFloat64()]);
    expect(ms).toBeLessThan(BUDGET_MS);
  });
});
