/**
 * Reference kernels of the pointwise layers run as single steps: elementwise, unary, activation,
 * scale, cast, select, parametric_relu and identity. They use the Tensor-level reference kernels
 * with the scalar functions of scalar_math.ts, the same ones the fused pointwise programs use.
 */
import { binaryKernel, castKernel, unaryKernel, whereKernel } from '../../kernels/reference/elementwise.js';
import { allocValues, mapBinary, planBroadcast, readAs, toTensor } from '../../kernels/reference/broadcast.js';
import type { Tensor } from '../../tensor/tensor.js';
import { inputAt, ReferenceKernelError, type LayerCall, type LayerKernels } from './layer_kernel.js';
import { activationFn, elementwiseMathName, unaryFn } from './scalar_math.js';

type PointwiseKinds = 'elementwise' | 'unary' | 'activation' | 'scale' | 'cast' | 'select' | 'parametric_relu' | 'identity';

/**
 * The broadcast shape a scale weight takes for `mode`: per channel along `channelAxis` of an
 * input of rank `rank` ([C] becomes [C, 1, ..., 1]), its own shape otherwise.
 */
export function scaleWeightView(mode: 'uniform' | 'channel' | 'elementwise', channelAxis: number, rank: number, weightShape: readonly number[]): number[] | null {
  if (mode !== 'channel') return null;
  const axis = channelAxis < 0 ? channelAxis + rank : channelAxis;
  const count = weightShape.reduce((a, b) => a * b, 1);
  return [count, ...new Array<number>(Math.max(rank - 1 - axis, 0)).fill(1)];
}

function elementwise(call: LayerCall<'elementwise'>): Tensor[] {
  const a = inputAt(call, 0, 'first operand');
  const b = inputAt(call, 1, 'second operand');
  const math = elementwiseMathName(call.params.op, a.dtype);
  return [binaryKernel(`step '${call.name}'`, a, b, math, { compute: a.dtype, out: call.outputs[0]!.dtype })];
}

function unary(call: LayerCall<'unary'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  return [unaryKernel(x, x.dtype, call.outputs[0]!.dtype, unaryFn(call.params.op))];
}

function activation(call: LayerCall<'activation'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const { op, alpha, beta } = call.params;
  return [unaryKernel(x, x.dtype, call.outputs[0]!.dtype, activationFn(op, alpha, beta))];
}

/** (x * scale + shift) ^ power in float32 (one kernel on a GPU: no rounding in between). */
function scale(call: LayerCall<'scale'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const { mode, channelAxis } = call.params;
  const f32 = { compute: 'float32', out: 'float32' } as const;
  const op = `step '${call.name}'`;
  let y = x;
  const steps = [['mul', 1], ['add', 2], ['pow', 3]] as const;
  for (const [math, i] of steps) {
    const w = call.inputs[i];
    if (!w) continue;
    const view = scaleWeightView(mode, channelAxis, x.rank, w.shape);
    y = binaryKernel(op, y, view ? w.withShape(view) : w, math, f32);
  }
  return [y];
}

function cast(call: LayerCall<'cast'>): Tensor[] {
  return [castKernel(inputAt(call, 0, 'input'), call.params.toType)];
}

function select(call: LayerCall<'select'>): Tensor[] {
  const cond = inputAt(call, 0, 'condition');
  if (cond.dtype !== 'bool') throw new ReferenceKernelError(`step '${call.name}': condition must be bool, got ${cond.dtype}`);
  return [whereKernel(`step '${call.name}'`, cond, inputAt(call, 1, 'then'), inputAt(call, 2, 'else'), call.outputs[0]!.dtype)];
}

/** x > 0 ? x : slope * x, with the slope broadcast to x. */
function parametricRelu(call: LayerCall<'parametric_relu'>): Tensor[] {
  const x = inputAt(call, 0, 'input');
  const slope = inputAt(call, 1, 'slope');
  const plan = planBroadcast(`step '${call.name}'`, [x.shape, slope.shape]);
  const out = allocValues(x.dtype, plan.numel);
  mapBinary(plan, readAs(x, x.dtype), readAs(slope, x.dtype), out, (v, s) => (v > 0 ? v : s * v));
  return [toTensor(out, plan.shape, x.dtype)];
}

function identity(call: LayerCall<'identity'>): Tensor[] {
  return [castKernel(inputAt(call, 0, 'input'), call.outputs[0]!.dtype)];
}

/** Reference kernels of the pointwise layers as single steps. */
export const POINTWISE_KERNELS: LayerKernels<PointwiseKinds> = {
  elementwise, unary, activation, scale, cast, select, parametric_relu: parametricRelu, identity,
};
