import { describe, expect, it } from 'vitest';
import { accTrace, defaultPasses, GraphModule, maxAbsDiff, modelZoo, nn, PassManager, symbolicTrace, Tensor, type Module } from '../src/index.js';

// The "done when" of the foundation: for each bundled model, the default passes keep the output
// within 1e-5 (relative to the output's scale) while removing nodes, lint holds after every pass,
// and save → load gives identical outputs.

function tensorsOf(v: unknown): Tensor[] {
  if (v instanceof Tensor) return [v];
  if (Array.isArray(v)) return v.flatMap(tensorsOf);
  throw new TypeError(`expected tensors, got ${String(v)}`);
}

function relErr(a: Tensor, b: Tensor): number {
  const scale = Math.max(...Array.from(b.toFloat64(), Math.abs), 1e-30);
  return maxAbsDiff(a, b) / scale;
}

function identical(a: unknown, b: unknown): boolean {
  const x = tensorsOf(a);
  const y = tensorsOf(b);
  return x.length === y.length && x.every((t, i) => t.dtype === y[i]!.dtype && Buffer.from(t.bytes()).equals(Buffer.from(y[i]!.bytes())));
}

/** Non-trivial batch-norm statistics, so folding them is really exercised. */
function randomizeBatchNorms(model: Module): void {
  let seed = 100;
  for (const m of model.modules()) {
    if (m instanceof nn.BatchNorm2d || m instanceof nn.BatchNorm1d) {
      const c = m.running_mean!.numel;
      m.running_mean!.setData(Tensor.randn([c], { seed: seed++, std: 0.1 }).data);
      m.running_var!.setData(Tensor.rand([c], { seed: seed++, low: 0.5, high: 1.5 }).data);
    }
  }
}

function opCounts(gm: GraphModule): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of gm.graph.nodes()) if (n.op === 'call_function') counts.set(n.target.name, (counts.get(n.target.name) ?? 0) + 1);
  return counts;
}

const cases: { name: keyof typeof modelZoo; input: number[]; removed: string[] }[] = [
  { name: 'resnet18', input: [1, 3, 64, 64], removed: ['acc.batch_norm'] },
  { name: 'resnet50', input: [1, 3, 64, 64], removed: ['acc.batch_norm'] },
  { name: 'mobilenetV2', input: [1, 3, 64, 64], removed: ['acc.batch_norm', 'acc.dropout'] },
  { name: 'bertEncoderLayer', input: [1, 8, 768], removed: ['acc.dropout'] },
  { name: 'centerNetHead', input: [1, 512, 4, 4], removed: ['acc.batch_norm'] },
];

describe('bundled models through the default passes', () => {
  for (const c of cases) {
    it(`${c.name}: passes keep the output, remove nodes, lint after each pass; save → load is exact`, () => {
      const entry = modelZoo[c.name];
      const model = entry.create().eval();
      randomizeBatchNorms(model);
      const x = Tensor.randn(c.input, { seed: 7 });
      const eager = model.forward(x);
      const gm = symbolicTrace(model, entry.traceOptions);
      expect(identical(gm.forward(x), eager)).toBe(true);

      const acc = accTrace(gm, [x]);
      const before = opCounts(acc);
      const nodesBefore = acc.graph.length; // passes transform the module in place, as in fx
      for (const op of c.removed) expect(before.get(op) ?? 0, op).toBeGreaterThan(0);
      const linted: string[] = [];
      // Relative to the output's scale (norm-wise): deep nets have outputs near zero next to large ones.
      const scale = Math.max(...tensorsOf(eager).flatMap((t) => Array.from(t.toFloat64(), Math.abs)));
      const pm = new PassManager(defaultPasses(), {
        validate: { inputs: [x], rtol: 1e-5, atol: 1e-5 * scale },
        onPass: (name, after) => { after.lint(); linted.push(name); },
      });
      const { gm: optimized } = pm.run(acc);
      expect(linted.length).toBe(defaultPasses().length);
      const after = opCounts(optimized);
      for (const op of c.removed) expect(after.get(op) ?? 0, op).toBe(0);
      expect(optimized.graph.length).toBeLessThan(nodesBefore);
      const [y] = tensorsOf(optimized.forward(x));
      const [ref] = tensorsOf(eager);
      expect(relErr(y!, ref!)).toBeLessThan(1e-5);

      for (const m of [gm, optimized]) {
        const loaded = GraphModule.load(m.save());
        expect(loaded.graph.toString()).toBe(m.graph.toString());
        expect(identical(loaded.forward(x), m.forward(x))).toBe(true);
      }
    });
  }
});
