/**
 * Helpers of the CPU tests of the CUDA lowering: a plan's program spec at given shapes, and the
 * host memory a test interpreter of those specs reads and writes (context memory and constants).
 */
import { deviceConstants } from '../src/backends/cuda/device_constants.js';
import type { MemRef, ProgramSpec } from '../src/backends/cuda/exec_spec.js';
import { programSpec } from '../src/backends/cuda/lower/program.js';
import { contextMemory, planLayout } from '../src/backends/cuda/plan_layout.js';
import { resolveShapes } from '../src/engine/execution_context.js';
import type { Plan } from '../src/engine/plan.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, itemSize, type DType } from '../src/tensor/dtype.js';

/** The CUDA program of `plan` at `inputShapes` (default: the profile's opt shapes), its context bytes, constants and value shapes. */
export function lowerPlan(plan: Plan, inputShapes = plan.inputs.map((io) => io.profile.opt)): { spec: ProgramSpec; bytes: number; constants: Uint8Array; shapes: number[][] } {
  const layout = planLayout(plan);
  const memory = contextMemory(plan, layout);
  const constants = deviceConstants(plan, layout);
  const shapes = resolveShapes(plan, inputShapes);
  const spec = programSpec(plan, layout, memory, constants, shapes, { tune: false, graphs: false, graphCopies: false, deterministic: false });
  return { spec, bytes: memory.bytes, constants: constants.blob, shapes };
}

/** The context memory (mem 0, written by ops) and the constants (mem 1) of a host-interpreted program. */
export class HostMemory {
  readonly context: Uint8Array;
  readonly constants: Uint8Array;
  readonly #views: DataView[];

  constructor(bytes: number, constants: Uint8Array) {
    this.context = new Uint8Array(bytes);
    this.constants = constants;
    this.#views = [this.context, constants].map((m) => new DataView(m.buffer, m.byteOffset, m.byteLength));
  }

  read(ref: MemRef, element: number, dtype: DType): number {
    const v = this.#views[ref.mem]!;
    const at = ref.offset + element * itemSize(dtype);
    switch (dtype) {
      case 'float32': return v.getFloat32(at, true);
      case 'float16': return f16BitsToF32(v.getUint16(at, true));
      case 'bfloat16': return bf16BitsToF32(v.getUint16(at, true));
      case 'int8': return v.getInt8(at);
      case 'bool': case 'uint8': return v.getUint8(at);
      default: throw new Error(`the test interpreter reads no ${dtype}`);
    }
  }

  write(ref: MemRef, element: number, dtype: DType, value: number): void {
    if (ref.mem !== 0) throw new Error('ops write the context memory');
    const v = this.#views[0]!;
    const at = ref.offset + element * itemSize(dtype);
    switch (dtype) {
      case 'float32': v.setFloat32(at, value, true); break;
      case 'float16': v.setUint16(at, f32ToF16Bits(value), true); break;
      case 'bfloat16': v.setUint16(at, f32ToBf16Bits(value), true); break;
      case 'int8': v.setInt8(at, value); break;
      default: throw new Error(`the test interpreter writes no ${dtype}`);
    }
  }

  /** Copies one element of `bytes` bytes (a copy op's element) from `src` to the context memory. */
  copyBytes(src: MemRef, srcElement: number, dst: MemRef, dstElement: number, bytes: number): void {
    if (dst.mem !== 0) throw new Error('copies write the context memory');
    const from = [this.context, this.constants][src.mem]!;
    this.context.set(from.subarray(src.offset + srcElement * bytes, src.offset + (srcElement + 1) * bytes), dst.offset + dstElement * bytes);
  }
}
