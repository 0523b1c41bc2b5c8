/**
 * The CUDA gather lowering on any machine: the native op gets what it needs to report an index
 * out of range the way the reference does (the indices' logical view, to turn the offending
 * element's offset into a position, and the data axis). The report itself: test/gpu/cuda_device_io.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { NativeOpSpec } from '../src/backends/cuda/exec_spec.js';
import type { LayerParamsMap } from '../src/engine/network.js';
import { NetworkDefinition } from '../src/engine/network_definition.js';
import type { Plan } from '../src/engine/plan.js';
import { lowerPlan } from './cuda_spec_host.js';
import { build, layer } from './engine_helpers.js';

type GatherSpec = Extract<NativeOpSpec, { op: 'gather' }>;

/** The gather ops of the plan's program at its opt shapes. */
function gathersOf(plan: Plan): GatherSpec[] {
  return lowerPlan(plan).spec.ops.filter((op): op is GatherSpec => op.op === 'gather');
}

async function gatherPlan(dataShape: number[], indexShape: number[], params: LayerParamsMap['gather']): Promise<Plan> {
  const net = new NetworkDefinition('gather');
  const data = net.addInput('data', 'float32', dataShape);
  const index = net.addInput('index', 'int32', indexShape);
  net.markOutput(layer(net, 'gather', [data, index], params, 'g'), 'y');
  return (await build(net, { optimizations: false })).plan;
}

describe('gather lowering for the data error channel', () => {
  it('default mode: the indices view is the index operand as the network sees it, with the data axis', async () => {
    const [g, ...rest] = gathersOf(await gatherPlan([4, 5, 6], [2, 3], { axis: 1, mode: 'default' }));
    expect(rest).toEqual([]);
    expect(g!.indexView).toEqual({ shape: [2, 3], strides: [3, 1] });
    expect(g!.axis).toBe(1);
    expect(g!.axisSize).toBe(5);
    expect(g!.indexDtype).toBe('int32');
  });

  it('element mode: the indices have the data rank', async () => {
    const [g] = gathersOf(await gatherPlan([3, 4], [2, 4], { axis: 0, mode: 'element' }));
    expect(g!.indexView).toEqual({ shape: [2, 4], strides: [4, 1] });
    expect(g!.axis).toBe(0);
    expect(g!.axisSize).toBe(3);
  });

  it('scalar indices give a rank-0 view', async () => {
    const [g] = gathersOf(await gatherPlan([7, 2], [], { axis: 0, mode: 'default' }));
    expect(g!.indexView).toEqual({ shape: [], strides: [] });
    expect(g!.axis).toBe(0);
  });
});
