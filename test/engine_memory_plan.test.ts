import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { planMemory, type MemoryRequest } from '../src/engine/memory_plan.js';
import type { Plan, PlanValue } from '../src/engine/plan.js';
import { mulberry32 } from '../src/tensor/random.js';
import { build, expectClose, layer, newNet, randn, run } from './engine_helpers.js';

/** Every pair of values live at a common step must occupy disjoint bytes. */
function expectNoOverlap(requests: readonly MemoryRequest[], plan: ReturnType<typeof planMemory>): void {
  for (const a of requests) {
    const pa = plan.assignments.get(a.id)!;
    expect(pa.offset % plan.alignment).toBe(0);
    expect(pa.size).toBeGreaterThanOrEqual(a.size);
    expect(pa.offset + pa.size).toBeLessThanOrEqual(plan.arenaSize);
    for (const b of requests) {
      if (a.id >= b.id || a.size === 0 || b.size === 0) continue;
      const live = a.def <= b.lastUse && b.def <= a.lastUse;
      const pb = plan.assignments.get(b.id)!;
      const disjoint = pa.offset + pa.size <= pb.offset || pb.offset + pb.size <= pa.offset;
      if (live) expect(disjoint, `values ${a.id} and ${b.id} are live together but overlap`).toBe(true);
    }
  }
}

describe('planMemory', () => {
  it('reuses memory along a chain: two buffers suffice', () => {
    const requests = Array.from({ length: 10 }, (_, i) => ({ id: i, size: 1000, def: i, lastUse: i + 1 }));
    const plan = planMemory(requests);
    expectNoOverlap(requests, plan);
    expect(plan.arenaSize).toBe(2 * 1024);
    expect(plan.unsharedSize).toBe(10 * 1024);
  });

  it('aligns every slot and keeps zero-size values out of the arena', () => {
    const plan = planMemory([{ id: 0, size: 1, def: 0, lastUse: 3 }, { id: 1, size: 0, def: 1, lastUse: 2 }, { id: 2, size: 257, def: 1, lastUse: 2 }], 256);
    expect(plan.assignments.get(0)).toEqual({ id: 0, offset: 0, size: 256 });
    expect(plan.assignments.get(2)).toEqual({ id: 2, offset: 256, size: 512 });
    expect(plan.assignments.get(1)!.size).toBe(0);
    expect(plan.arenaSize).toBe(768);
  });

  it('never overlaps values live at the same step (random lifetimes)', () => {
    const rng = mulberry32(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rng() * 40);
      const requests = Array.from({ length: n }, (_, id) => {
        const def = Math.floor(rng() * 30);
        return { id, size: Math.floor(rng() * 5000), def, lastUse: def + Math.floor(rng() * 10) };
      });
      const plan = planMemory(requests);
      expectNoOverlap(requests, plan);
      // Never worse than no sharing, never better than the largest set of values live at one step.
      let peak = 0;
      for (let t = 0; t < 40; t++) {
        peak = Math.max(peak, requests.filter((r) => r.def <= t && t <= r.lastUse).reduce((s, r) => s + Math.ceil(r.size / 256) * 256, 0));
      }
      expect(plan.arenaSize).toBeGreaterThanOrEqual(peak);
      expect(plan.arenaSize).toBeLessThanOrEqual(plan.unsharedSize);
    }
  });

  it('rejects invalid requests', () => {
    expect(() => planMemory([{ id: 3, size: 10, def: 4, lastUse: 2 }])).toThrow(/value 3 has an invalid request/);
    expect(() => planMemory([], 0)).toThrow(/alignment must be a positive integer/);
  });
});

/** The arena values of a plan with their live step ranges. */
function arenaLifetimes(plan: Plan): { v: PlanValue; def: number; last: number }[] {
  return plan.values.filter((v) => v.location.kind === 'arena').map((v) => {
    const def = plan.steps.findIndex((s) => s.outputs.includes(v.id));
    let last = def;
    plan.steps.forEach((s, i) => {
      if (s.inputs.includes(v.id)) last = i;
    });
    return { v, def, last };
  });
}

describe('memory plan of built engines', () => {
  /** A random DAG of pointwise layers over two inputs, built without fusion so every value is materialized. */
  function randomNetwork(seed: number) {
    const rng = mulberry32(seed);
    const net = newNet(`dag${seed}`);
    const values = [net.addInput('a', 'float32', [4, 8]), net.addInput('b', 'float32', [4, 8])];
    // The same computation on float64 arrays, rounded to float32 after every layer.
    const ops: ((vals: Float64Array[]) => Float64Array)[] = [];
    const n = 6 + Math.floor(rng() * 14);
    for (let i = 0; i < n; i++) {
      const pick = () => Math.floor(rng() * values.length);
      if (rng() < 0.5) {
        const [p, q] = [pick(), pick()];
        const op = rng() < 0.5 ? 'sum' : 'prod';
        values.push(layer(net, 'elementwise', [values[p]!, values[q]!], { op }, `e${i}`));
        ops.push((v) => v[p]!.map((a, k) => Math.fround(op === 'sum' ? a + v[q]![k]! : a * v[q]![k]!)));
      } else {
        const p = pick();
        values.push(layer(net, 'activation', [values[p]!], { op: 'tanh', alpha: 0, beta: 0 }, `t${i}`));
        ops.push((v) => v[p]!.map((a) => Math.fround(Math.tanh(a))));
      }
    }
    net.markOutput(values[values.length - 1]!, 'y');
    const ref = (inputs: Float64Array[]): Float64Array => {
      const vals = [...inputs];
      for (const op of ops) vals.push(op(vals));
      return vals[vals.length - 1]!;
    };
    return { net, ref };
  }

  it('random DAGs: results are right and no two live values share bytes', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const { net, ref } = randomNetwork(seed);
      const engine = await build(net, { optimizations: false });
      const lifetimes = arenaLifetimes(engine.plan);
      for (const a of lifetimes) {
        for (const b of lifetimes) {
          if (a.v.id >= b.v.id || a.def > b.last || b.def > a.last) continue;
          const [la, lb] = [a.v.location, b.v.location];
          if (la.kind !== 'arena' || lb.kind !== 'arena') continue;
          expect(la.offset + la.size <= lb.offset || lb.offset + lb.size <= la.offset).toBe(true);
        }
      }
      const xs = [randn([4, 8], seed), randn([4, 8], seed + 100)];
      const [y] = await run(engine, xs);
      const expected = ref(xs.map((t) => t.toFloat64()));
      expect(Array.from(y!.toFloat64())).toEqual(Array.from(expected));
    }
  });

  it('shares the arena along a chain and reports both sizes', async () => {
    const net = newNet('chain');
    let x = net.addInput('x', 'float32', [64, 64]);
    for (let i = 0; i < 8; i++) x = layer(net, 'unary', [x], { op: i % 2 ? 'neg' : 'abs' }, `u${i}`);
    net.markOutput(x, 'y');
    const engine = await build(net, { optimizations: false });
    expect(engine.plan.memory.unsharedSize).toBe(7 * 64 * 64 * 4);
    expect(engine.plan.memory.arenaSize).toBe(2 * 64 * 64 * 4);
    expect(engine.report.memory).toMatchObject({ arenaBytes: 2 * 16384, unsharedBytes: 7 * 16384 });
  });

  it('sizes the arena for the profile max shapes', async () => {
    const net = newNet('dynamic');
    const x = net.addInput('x', 'float32', [-1, 16], { min: [1, 16], opt: [4, 16], max: [32, 16] });
    const h = layer(net, 'unary', [x], { op: 'exp' }, 'exp');
    net.markOutput(layer(net, 'unary', [h], { op: 'log' }, 'log'), 'y');
    const engine = await build(net, { optimizations: false });
    expect(engine.plan.memory.arenaSize).toBe(32 * 16 * 4);
  });

  it('fails the build when the arena exceeds the workspace limit, saying how much it needs', async () => {
    const net = newNet('big');
    const x = net.addInput('x', 'float32', [256, 256]);
    const h = layer(net, 'unary', [x], { op: 'exp' }, 'exp');
    net.markOutput(layer(net, 'unary', [h], { op: 'log' }, 'log'), 'y');
    await expect(build(net, { optimizations: false, workspaceLimit: 1000 })).rejects.toThrow(/needs 262144 bytes of activation memory .* workspaceLimit is 1000 bytes/);
    await expect(build(net, { optimizations: false, workspaceLimit: 262144 })).resolves.toBeInstanceOf(Engine);
  });

  it('values really live in the arena: a plan that overlaps two live values computes garbage', async () => {
    const net = newNet('overlap');
    const x = net.addInput('x', 'float32', [8]);
    const a = layer(net, 'unary', [x], { op: 'exp' }, 'a');
    const b = layer(net, 'unary', [x], { op: 'neg' }, 'b');
    net.markOutput(layer(net, 'elementwise', [a, b], { op: 'sum' }, 'sum'), 'y');
    const good = await build(net, { optimizations: false });
    const input = randn([8], 1);
    const [expected] = await run(good, [input]);
    const [la, lb] = [good.plan.values.find((v) => v.name === 'a_out')!, good.plan.values.find((v) => v.name === 'b_out')!];
    expect(la.location).not.toEqual(lb.location);
    const values = good.plan.values.map((v) => (v.id === lb.id ? { ...v, location: la.location } : v));
    const broken = new Engine({ ...good.plan, values });
    const [wrong] = await run(broken, [input]);
    expect(() => expectClose(wrong!, expected!)).toThrow();
  });
});
