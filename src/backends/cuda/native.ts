/**
 * The interface of the native addon (native/src, built into build/Release/fxrt_native.node) as
 * TypeScript sees it. Handles are opaque native objects; every function checks its arguments
 * again natively, so a wrong call throws instead of touching device memory it does not own.
 */
import type { DType } from '../../tensor/dtype.js';
import type { TacticSource, TacticStats } from '../../engine/engine.js';
import type { FloatDType } from '../../kernels/reference/float_io.js';
import type { ProgramSpec } from './exec_spec.js';
import type { TimingCacheDevice, TimingCacheEntry } from './timing_cache.js';

/** Version of this interface; must equal FXRT_NATIVE_ABI in native/src/abi.h. */
export const NATIVE_ABI_VERSION = 10;

/** A CUDA stream owned by the addon. */
export interface NativeStream {
  /** Resolves once all work enqueued so far has run (rejects on a CUDA fault); never blocks. */
  synchronize(): Promise<void>;
  /** Whether all work enqueued so far has finished (throws the CUDA error of a fault); never waits. */
  query(): boolean;
  /** Drops this handle; work already enqueued still runs. Refused for the default stream. */
  destroy(): void;
  readonly destroyed: boolean;
}

/** Device memory owned by the addon; freed by free() or when the handle is collected. */
export interface NativeBuffer {
  /** Frees after all work enqueued on the buffer's last stream (idempotent). */
  free(): void;
  /** A new buffer object owning this one's memory; this one is left freed, the memory is not. */
  take(): NativeBuffer;
  readonly byteLength: number;
  readonly freed: boolean;
  /** The device address (0 once freed or when empty). */
  readonly address: number;
}

/** Why CUDA can or cannot run, as the addon found it (never throws). */
export interface NativeProbe {
  readonly ok: boolean;
  readonly code: 'ok' | 'no-driver' | 'old-driver' | 'no-device' | 'no-kernel-image' | 'cuda-error';
  readonly message: string;
  readonly driverVersion: number;
  readonly runtimeVersion: number;
  readonly deviceCount: number;
  readonly deviceName?: string;
  readonly computeCapability?: readonly [number, number];
}

/** What the addon was compiled with. */
export interface CudaBuildInfo {
  /** CMAKE_CUDA_ARCHITECTURES, comma-separated (e.g. '90'). */
  readonly cudaArchitectures: string;
  /** CUDA version compiled against ('13.0'). */
  readonly cudaVersion: string;
  /** Whether cuBLASLt GEMMs are compiled in. */
  readonly cublasLt: boolean;
  /** Whether cuDNN is compiled in. */
  readonly cudnn: boolean;
  /** CUDNN_VERSION of the headers compiled against (e.g. 91900), or null without cuDNN. */
  readonly cudnnHeaderVersion: number | null;
}

/** Properties of the device the addon uses. */
export interface CudaDeviceInfo {
  readonly ordinal: number;
  readonly name: string;
  readonly computeCapability: readonly [number, number];
  readonly multiprocessors: number;
  readonly totalMemoryBytes: number;
  readonly l2CacheBytes: number;
  readonly sharedMemoryPerBlockOptin: number;
  /** The device's PCI bus id as cudaDeviceGetPCIBusId writes it (e.g. '0000:19:00.0'): names it to nvidia-smi and NVML. */
  readonly pciBusId: string;
  readonly driverVersion: string;
  readonly runtimeVersion: string;
  /** cudnnGetVersion() of the library loaded (e.g. 91900), or null without cuDNN. */
  readonly cudnnVersion: number | null;
}

/** The addon's own allocations (not the device's total use). */
export interface CudaMemoryStats {
  /** Bytes of live buffers (DeviceTensors and other device buffers). */
  readonly deviceBytes: number;
  readonly deviceBuffers: number;
  readonly peakDeviceBytes: number;
  /** Library workspaces (one per stream that ran a GEMM). */
  readonly workspaceBytes: number;
  /** Pinned host staging blocks, cached or in use. */
  readonly pinnedBytes: number;
  readonly pinnedBlocks: number;
  /** Promises waiting for a stream (downloads, synchronize). */
  readonly pendingCompletions: number;
  /** Completions settled by the JS thread's poll (pollCompletions) rather than the waiter thread, since the addon loaded. */
  readonly polledCompletions: number;
}

/** Arguments of the native GEMM: row-major out[m,n] = op(a)[m,k] · op(b)[k,n] (+ bias[n]) (relu). */
export interface NativeGemmArgs {
  readonly dtype: FloatDType;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly a: NativeBuffer;
  readonly b: NativeBuffer;
  readonly out: NativeBuffer;
  readonly bias: NativeBuffer | null;
  readonly relu: boolean;
  readonly allowTf32: boolean;
  /** undefined: the default stream. */
  readonly stream: NativeStream | undefined;
}

/** The counts of a plan's tactic cache since it was loaded (see TacticStats). */
export type NativeTacticStats = Pick<TacticStats, 'hits' | 'misses' | 'timed' | 'rejected'>;

/**
 * Constants of a loaded plan on the device (src/backends/cuda/executor), and the plan's tactic
 * cache: the library choices of its ops, exchanged with the persistent timing cache.
 */
export interface NativeExecPlan {
  /** A context with its own stream and `memoryBytes` of device memory. */
  createContext(memoryBytes: number): NativeExecContext;
  /** Drops this handle; contexts keep the constants alive until they go. */
  dispose(): void;
  readonly constantBytes: number;
  /** The device key of the tactics timed here. */
  tacticDevice(): TimingCacheDevice;
  /** Adds timed choices (from a timing cache of this device); returns how many records were well-formed. */
  importTactics(entries: readonly Pick<TimingCacheEntry, 'key' | 'data'>[]): number;
  /** The choices timed since the plan was loaded, sorted by key. */
  exportTactics(): TimingCacheEntry[];
  tacticStats(): NativeTacticStats;
}

/**
 * What one run resolves to: host outputs (null where a device buffer was filled), when profiled
 * per-step GPU ms, and for a timed run (run's `timedRuns`) each run's GPU ms.
 */
export interface NativeRunResult {
  readonly outputs: readonly (ArrayBuffer | null)[];
  readonly stepMs: Float64Array | null;
  readonly runMs: Float64Array | null;
}

/**
 * How a run rejects when a kernel reported bad data through the context's data error record
 * (native/README.md): the message names the step and says what was wrong, e.g.
 * "fxrt cuda: run: step 'g': gather index 7 at position [1] of the indices is out of range for dim 0 of size 3 (expected -3..2)".
 */
export interface NativeDataError extends Error {
  readonly code: 'FXRT_DATA_ERROR';
  /** The plan step whose op reported it (-1: plan I/O). */
  readonly step: number;
}

/** An execution context: one stream, one device memory; one run at a time. */
export interface NativeExecContext {
  /** Builds the ops of a program (choosing library algorithms; timing them when `spec.tune`). */
  prepare(spec: ProgramSpec): NativeExecProgram;
  /**
   * Enqueues a whole execution: input copies, the ops (or their CUDA graph), output copies;
   * resolves from a completion callback. `outputs[i]` non-null: copy output i into that buffer.
   * Rejects with a NativeDataError when a kernel met bad data (e.g. a gather index out of range).
   * `timedRuns` n (1 to 100000, not with `profile`): the run enqueued n times back to back with an
   * event before each and after the last; `runMs` has each run's GPU ms.
   */
  run(program: NativeExecProgram, inputs: readonly (Uint8Array | NativeBuffer)[], outputs: readonly (NativeBuffer | null)[], profile: boolean, timedRuns?: number): Promise<NativeRunResult>;
  dispose(): void;
  readonly memoryBytes: number;
  /** The context's own stream: outputs allocated on it are used by runs without a cross-stream wait. */
  readonly stream: NativeStream;
}

/** The ops of one plan for one set of input shapes. */
export interface NativeExecProgram {
  /** The implementation of every op, where it came from, and the plan step it belongs to (-1: plan I/O). */
  tactics(): { readonly step: number; readonly tactic: string; readonly source: TacticSource }[];
  /** 'eager', 'graph', or why capturing a CUDA graph failed. */
  readonly graphState: string;
  /**
   * Launches in the CUDA graph chained to the kernel before them (programmatic dependent launch,
   * native/src/kernels/chained_launch.cuh): the graph's programmatic edges; -1 while there is no graph.
   */
  readonly chainedLaunches: number;
  dispose(): void;
}

/** The functions the addon exports. A missing `stream` means the default stream. */
export interface NativeAddon {
  readonly abiVersion: number;
  readonly buildInfo: CudaBuildInfo;
  probe(): NativeProbe;
  deviceInfo(): CudaDeviceInfo;
  memoryInUse(): CudaMemoryStats;
  createStream(): NativeStream;
  defaultStream(): NativeStream;
  /** Settles the pending promises (runs, synchronize, downloads) whose streams are done, on this thread; returns how many are still pending. */
  pollCompletions(): number;
  allocBuffer(bytes: number, stream?: NativeStream): NativeBuffer;
  /** Copies `source` through pinned staging; `source` may be reused as soon as this returns. */
  upload(buffer: NativeBuffer, source: ArrayBufferView, stream?: NativeStream): void;
  /** The buffer's bytes once the copy ran; the stream defaults to the buffer's last one. */
  download(buffer: NativeBuffer, stream?: NativeStream): Promise<ArrayBuffer>;
  binary(op: 'add', dtype: FloatDType, a: NativeBuffer, b: NativeBuffer, out: NativeBuffer, n: number, stream?: NativeStream): void;
  unary(op: 'relu', dtype: FloatDType, x: NativeBuffer, out: NativeBuffer, n: number, stream?: NativeStream): void;
  cast(src: FloatDType, dst: FloatDType, x: NativeBuffer, out: NativeBuffer, n: number, stream?: NativeStream): void;
  gemm(args: NativeGemmArgs): void;
  /** Uploads a plan's device constants once. */
  loadPlan(constants: Uint8Array): NativeExecPlan;
}

/** The functions an addon must export to be used (checked when it is loaded). */
export const NATIVE_FUNCTIONS = [
  'probe', 'deviceInfo', 'memoryInUse', 'createStream', 'defaultStream', 'pollCompletions', 'allocBuffer',
  'upload', 'download', 'binary', 'unary', 'cast', 'gemm', 'loadPlan',
] as const satisfies readonly (keyof NativeAddon)[];

/** The dtypes the addon's kernels compute on. */
export type { FloatDType };

/** Whether `d` is one of the float dtypes the kernels take. */
export function isFloatDType(d: DType): d is FloatDType {
  return d === 'float32' || d === 'float16' || d === 'bfloat16';
}
