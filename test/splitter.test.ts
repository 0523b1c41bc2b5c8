import { describe, expect, it } from 'vitest';
import '../src/converters/index.js';
import { accTrace } from '../src/acc_ops/acc_tracer.js';
import { getAccOp } from '../src/acc_ops/registry.js';
import { Graph } from '../src/ir/graph.js';
import { GraphModule } from '../src/ir/graph_module.js';
import type { AnyNode } from '../src/ir/node.js';
import { wrap } from '../src/ir/wrap.js';
import { F } from '../src/nn/functional.js';
import { nn } from '../src/nn/index.js';
import { Module } from '../src/nn/module.js';
import { mulberry32 } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { findFusionGroups, stronglyConnected } from '../src/splitter/fusion_groups.js';
import { decideSupport } from '../src/splitter/operator_support.js';
import { SplitPreview } from '../src/splitter/preview.js';
import { previewFromJSON } from '../src/splitter/preview_json.js';
import { splitModule, type SplitResult } from '../src/splitter/splitter.js';

/** A user function with an eager implementation and no converter: x * sigmoid(x), computed by hand. */
const swish = wrap('test_splitter.swish', (x: Tensor): Tensor => {
  const v = x.toFloat32();
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / (1 + Math.exp(-v[i]!));
  return Tensor.fromStorage(out, x.shape, 'float32');
});
const userSwish = swish.graphFunction;

class SwishNet extends Module {
  fc1 = new nn.Linear(8, 16);
  fc2 = new nn.Linear(16, 4);
  override forward(x: Tensor): Tensor {
    return this.fc2.forward(swish(F.relu(this.fc1.forward(x))));
  }
}

/** Each part takes only placeholders or values returned by earlier parts: no cycles. */
function expectTopologicalParts(r: SplitResult): void {
  const available = new Set(r.source.graph.placeholders.map((p) => p.name));
  for (const p of r.parts) {
    for (const i of p.inputs) expect(available.has(i), `${p.name} takes '${i}' before it is computed`).toBe(true);
    for (const o of p.outputs) available.add(o);
  }
  r.split.lint();
  for (const p of r.parts) p.module.lint();
}

function expectSameOutputs(a: unknown, b: unknown): void {
  const flat = (v: unknown): Tensor[] => (v instanceof Tensor ? [v] : Array.isArray(v) ? v.flatMap(flat) : []);
  const x = flat(a);
  const y = flat(b);
  expect(y.length).toBe(x.length);
  x.forEach((t, i) => {
    expect(y[i]!.shape).toEqual(t.shape);
    expect(Array.from(y[i]!.toFloat32())).toEqual(Array.from(t.toFloat32()));
  });
}

function kinds(r: SplitResult): string[] {
  return r.parts.map((p) => p.name);
}

describe('splitter: a user function without a converter', () => {
  const model = new SwishNet().eval();
  const x = Tensor.randn([2, 8], { seed: 1 });
  const acc = accTrace(model, [x]);
  const result = splitModule(acc);

  it('splits into acc and cpu parts around the unsupported call', () => {
    expect(kinds(result)).toEqual(['_run_on_acc_0', '_run_on_cpu_1', '_run_on_acc_2']);
    const cpu = result.parts[1]!;
    expect(cpu.kind).toBe('cpu');
    expect(cpu.module.graph.toString()).toContain('test_splitter.swish');
    expect(result.placements.get(cpu.nodes[0]!)?.reason).toBe("'test_splitter.swish' is not an acc op");
    expectTopologicalParts(result);
  });

  it('runs end to end with the same results as the unsplit module', () => {
    expectSameOutputs(acc.forward(x), result.split.forward(x));
    expectSameOutputs(model.forward(x), result.split.forward(x));
  });

  it('the split graph calls the parts in order', () => {
    const calls = result.split.graph.nodeList().filter((n) => n.op === 'call_module').map((n) => n.op === 'call_module' && n.target);
    expect(calls).toEqual(['_run_on_acc_0', '_run_on_cpu_1', '_run_on_acc_2']);
  });

  it('the preview names the unsupported op and the subgraphs', () => {
    const preview = SplitPreview.of(result);
    const text = preview.toString();
    expect(text).toContain('test_splitter.swish × 1');
    expect(text).toContain("'test_splitter.swish' is not an acc op");
    expect(text).toContain('_run_on_cpu_1 (cpu, 1 node)');
    const json = JSON.parse(JSON.stringify(preview)) as ReturnType<SplitPreview['toJSON']>;
    expect(json.unsupported.map((u) => u.op)).toEqual(['test_splitter.swish']);
    expect(json.unsupported[0]!.inputDtypes).toEqual(['float32']);
    expect(json.supported.map((s) => s.op)).toEqual(['acc.linear', 'acc.relu']);
    expect(json.supported.find((s) => s.op === 'acc.linear')!.count).toBe(2);
    expect(json.subgraphs.map((s) => [s.name, s.kind])).toEqual([
      ['_run_on_acc_0', 'acc'], ['_run_on_cpu_1', 'cpu'], ['_run_on_acc_2', 'acc'],
    ]);
    expect(json.subgraphs[0]!.inputs).toEqual([{ name: 'x', shape: [2, 8], dtype: 'float32' }]);
    expect(json.subgraphs[2]!.outputs).toEqual([{ name: 'linear_1', shape: [2, 4], dtype: 'float32' }]);
  });

  it('the preview reads back from JSON, and malformed JSON is refused field by field', () => {
    const preview = SplitPreview.of(result);
    const again = previewFromJSON(JSON.parse(JSON.stringify(preview)));
    expect(again.toString()).toBe(preview.toString());
    expect(again.toJSON()).toEqual(preview.toJSON());
    expect(() => previewFromJSON({})).toThrow('preview.minAccModuleSize is not a number');
    const broken = { ...preview.toJSON(), subgraphs: [{ ...preview.subgraphs[0]!, kind: 'gpu' }] };
    expect(() => previewFromJSON(broken)).toThrow("preview.subgraphs[0].kind must be 'acc' or 'cpu'");
  });
});

class Sandwich extends Module {
  fc = new nn.Linear(6, 6);
  override forward(x: Tensor): Tensor {
    const a = swish(this.fc.forward(x));
    const b = F.relu(a);
    return F.sigmoid(swish(b));
  }
}

describe('splitter: minAccModuleSize', () => {
  const x = Tensor.randn([3, 6], { seed: 2 });
  const acc = accTrace(new Sandwich().eval(), [x]);

  it('keeps every acc part at the default size 1', () => {
    expect(kinds(splitModule(acc))).toEqual(['_run_on_acc_0', '_run_on_cpu_1', '_run_on_acc_2', '_run_on_cpu_3', '_run_on_acc_4']);
  });

  it('moves acc parts below the minimum to the cpu and merges them with their neighbours', () => {
    const r = splitModule(acc, { minAccModuleSize: 2 });
    expect(r.parts.map((p) => [p.kind, p.nodes.length])).toEqual([['cpu', 5]]);
    expect(r.placements.get('relu')).toEqual({
      part: '_run_on_cpu_0', kind: 'cpu', reason: 'its acc subgraph has 1 node(s), fewer than minAccModuleSize 2',
    });
    expectSameOutputs(acc.forward(x), r.split.forward(x));
    const preview = SplitPreview.of(r);
    expect(preview.demoted.map((d) => d.node)).toEqual(['linear', 'relu', 'sigmoid']);
    expect(preview.toString()).toContain('supported but run on the interpreter:');
  });

  it('rejects a minimum below 1', () => {
    expect(() => splitModule(acc, { minAccModuleSize: 0 })).toThrow(/minAccModuleSize must be an integer >= 1, got 0/);
  });
});

class ReluChain extends Module {
  fc = new nn.Linear(4, 4);
  override forward(x: Tensor): Tensor {
    return F.tanh(F.relu(this.fc.forward(F.relu(x))));
  }
}

describe('splitter: excludeOps', () => {
  const x = Tensor.randn([2, 4], { seed: 3 });
  const acc = accTrace(new ReluChain().eval(), [x]);

  it('excludes an acc op by name, with or without the acc. prefix', () => {
    for (const name of ['acc.relu', 'relu']) {
      const r = splitModule(acc, { excludeOps: [name] });
      expect(r.parts.map((p) => [p.kind, p.nodes])).toEqual([
        ['cpu', ['relu']], ['acc', ['linear']], ['cpu', ['relu_1']], ['acc', ['tanh']],
      ]);
      expect(r.placements.get('relu_1')?.reason).toBe(`excluded by the user (excludeOps: '${name}')`);
      expectSameOutputs(acc.forward(x), r.split.forward(x));
    }
  });

  it('excludes a single node by its name', () => {
    const r = splitModule(acc, { excludeOps: ['relu_1'] });
    expect(r.parts.map((p) => [p.kind, p.nodes])).toEqual([['acc', ['relu', 'linear']], ['cpu', ['relu_1']], ['acc', ['tanh']]]);
  });

  it('rejects input dtypes the engine does not take', () => {
    const r = splitModule(acc, { supportedDTypes: ['float16'] });
    expect(r.parts.map((p) => p.kind)).toEqual(['cpu']);
    expect(r.placements.get('tanh')?.reason).toBe("input 'relu_1' has dtype float32; engines take float16");
  });
});

class ShapeNet extends Module {
  override forward(x: Tensor): Tensor {
    const n = x.shape[0]!;
    const q = x.reshape(n, -1);
    const u = F.relu(q);
    return F.relu(x.reshape(n, u.shape[1]!));
  }
}

describe('splitter: nodes joined by non-tensor values', () => {
  const x = Tensor.randn([2, 3, 2], { seed: 4 });
  const acc = accTrace(new ShapeNet(), [x]);
  const names = (ns: readonly AnyNode[]): string[] => ns.map((n) => n.name);

  it('groups sizes with their users, and nodes on paths between group members', () => {
    const { groups } = findFusionGroups(acc.graph);
    // relu lies between reshape and size_1, both in the group of size: it joins to avoid a cycle.
    expect(groups.map((g) => names(g.nodes))).toEqual([['size', 'reshape', 'relu', 'size_1', 'reshape_1'], ['relu_1']]);
  });

  it('a group runs on the cpu when one member is unsupported', () => {
    const { decisions } = decideSupport(acc.graph, { excludeOps: ['reshape_1'] });
    const byName = new Map([...decisions].map(([n, d]) => [n.name, d]));
    expect(byName.get('reshape_1')).toEqual({ supported: false, reason: "excluded by the user (excludeOps: 'reshape_1')" });
    expect(byName.get('size')?.reason).toBe(
      "kept with 'reshape_1' (joined by non-tensor values), which is unsupported: excluded by the user (excludeOps: 'reshape_1')");
    expect(byName.get('relu')?.supported).toBe(false);
    expect(byName.get('relu_1')).toEqual({ supported: true });
    const r = splitModule(acc, { excludeOps: ['reshape_1'] });
    expect(r.parts.map((p) => p.kind)).toEqual(['cpu', 'acc']);
    expectSameOutputs(acc.forward(x), r.split.forward(x));
  });

  it('never passes a non-tensor value across a part boundary', () => {
    const r = splitModule(acc, { excludeOps: ['relu'] });
    const metaOf = new Map(acc.graph.nodeList().map((n) => [n.name, n.meta.tensorMeta]));
    for (const p of r.parts) {
      for (const v of [...p.inputs, ...p.outputs]) {
        const m = metaOf.get(v);
        expect(m !== null && typeof m === 'object' && 'shape' in m, `'${v}' crosses ${p.name}`).toBe(true);
      }
    }
  });
});

describe('splitter: DAG partitions', () => {
  it('puts a node in a later part when it depends on a cpu node', () => {
    class Diamond extends Module {
      override forward(x: Tensor): Tensor {
        const a = F.relu(x);
        const b = swish(a);
        const c = F.tanh(x);
        return F.add(b, c);
      }
    }
    const x = Tensor.randn([5], { seed: 5 });
    const acc = accTrace(new Diamond(), [x]);
    const r = splitModule(acc);
    expect(r.parts.map((p) => [p.name, p.nodes])).toEqual([
      ['_run_on_acc_0', ['relu', 'tanh']], ['_run_on_cpu_1', ['swish']], ['_run_on_acc_2', ['add']],
    ]);
    expectTopologicalParts(r);
    expectSameOutputs(acc.forward(x), r.split.forward(x));
  });

  it('random DAGs split into acyclic parts that compute the same values', () => {
    const relu = getAccOp('relu');
    const add = getAccOp('add');
    const mul = getAccOp('mul');
    for (let seed = 1; seed <= 40; seed++) {
      const rng = mulberry32(seed);
      const g = new Graph();
      const meta = { shape: [4], dtype: 'float32' as const };
      const values: AnyNode[] = [];
      for (const name of ['x', 'y']) {
        const p = g.placeholder(name);
        p.meta.tensorMeta = meta;
        values.push(p);
      }
      const pick = (): AnyNode => values[Math.floor(rng() * values.length)]!;
      const count = 6 + Math.floor(rng() * 14);
      for (let i = 0; i < count; i++) {
        const r = rng();
        const n = r < 0.3 ? g.callFunction(userSwish, [pick()])
          : r < 0.55 ? g.callFunction(relu, [], { input: pick() })
            : g.callFunction(r < 0.8 ? add : mul, [], { input: pick(), other: pick() });
        n.meta.tensorMeta = meta;
        values.push(n);
      }
      g.output(values.filter((n) => n.users.size === 0 && n.op !== 'placeholder'));
      const gm = new GraphModule({}, g, 'RandomDag');
      const r = splitModule(gm, { minAccModuleSize: 1 + (seed % 3) });
      expectTopologicalParts(r);
      for (let i = 1; i < r.parts.length; i++) {
        if (r.parts[i - 1]!.kind === 'cpu') expect(r.parts[i]!.kind, `seed ${seed}: adjacent cpu parts`).toBe('acc');
      }
      for (const p of r.parts) {
        if (p.kind === 'acc') expect(p.nodes.length).toBeGreaterThanOrEqual(1 + (seed % 3));
      }
      const inputs = [Tensor.randn([4], { seed }), Tensor.randn([4], { seed: seed + 100 })];
      expectSameOutputs(gm.forward(...inputs), r.split.forward(...inputs));
    }
  });

  it('strongly connected components follow Tarjan on a deep chain without recursion', () => {
    const n = 200_000;
    const succ = Array.from({ length: n }, (_, i) => (i + 1 < n ? [i + 1] : [0]));
    const comp = stronglyConnected(succ);
    expect(new Set(comp).size).toBe(1);
    const chain = stronglyConnected(Array.from({ length: n }, (_, i) => (i + 1 < n ? [i + 1] : [])));
    expect(new Set(chain).size).toBe(n);
  });

  it('a graph with no compute nodes has no parts and returns its inputs', () => {
    const g = new Graph();
    const x = g.placeholder('x');
    x.meta.tensorMeta = { shape: [2], dtype: 'float32' };
    g.output([x, x]);
    const r = splitModule(new GraphModule({}, g));
    expect(r.parts).toEqual([]);
    const t = Tensor.fromArray([1, 2]);
    expect(r.split.forward(t)).toEqual([t, t]);
  });
});

describe('splitter: large graphs', () => {
  it('splits a 20 000-node chain quickly', () => {
    const relu = getAccOp('relu');
    const g = new Graph();
    const meta = { shape: [2], dtype: 'float32' as const };
    let v: AnyNode = g.placeholder('x');
    v.meta.tensorMeta = meta;
    for (let i = 1; i <= 20_000; i++) {
      v = i % 100 === 0 ? g.callFunction(userSwish, [v]) : g.callFunction(relu, [], { input: v });
      v.meta.tensorMeta = meta;
    }
    g.output(v);
    const gm = new GraphModule({}, g, 'Chain');
    const t0 = performance.now();
    const r = splitModule(gm, { minAccModuleSize: 50 });
    const ms = performance.now() - t0;
    expect(r.parts.length).toBe(400);
    expect(r.parts.filter((p) => p.kind === 'acc').length).toBe(200);
    expect(ms).toBeLessThan(5000);
    const t = Tensor.fromArray([-1, 2]);
    expectSameOutputs(gm.forward(t), r.split.forward(t));
  });
});
