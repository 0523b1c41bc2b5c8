/**
 * The GPU's SM clock and board power while the benchmark times an engine (scripts/bench_gpu.ts):
 * nvidia-smi samples the benchmark's device, named by its PCI bus id, every few ms in a child
 * process, and each timed window gets the median of the samples taken inside it. Under a power cap
 * (an H100 SXM's 700 W) the clock follows the power the running work draws, so an engine's GPU time
 * is reported with the clock it ran at. Parsing and the windows' readings are pure functions, tested
 * in CI (test/bench_clocks.test.ts).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { median } from './bench_timing.js';

/** One nvidia-smi sample: when (ms since the epoch, the host's clock), SM clock, board power, and whether the software power cap held the clock down. */
export interface ClockSample {
  readonly t: number;
  readonly smMhz: number;
  readonly powerW: number;
  readonly powerCapped: boolean;
}

/** The samples inside some windows: medians of the SM clock and board power, and the share of samples under the power cap. */
export interface ClockReading {
  readonly smMhz: number;
  readonly powerW: number;
  readonly samples: number;
  readonly powerCappedShare: number;
}

/** NVML's clock event reason bit of the software power cap (nvmlClocksEventReasonSwPowerCap). */
export const SW_POWER_CAP = 0x4n;

// The reasons' field took its current name in the R535 drivers; older ones call it a throttle reason.
const REASON_FIELDS = ['clocks_event_reasons.active', 'clocks_throttle_reasons.active'] as const;

const TIMESTAMP = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;

/**
 * Samples from nvidia-smi's `--query-gpu=timestamp,clocks.sm,power.draw,<reasons>
 * --format=csv,noheader,nounits` lines (the timestamp in the host's local time, as nvidia-smi
 * prints it). Lines it cannot read, such as a field reported as '[N/A]', are left out.
 */
export function parseClockSamples(text: string): ClockSample[] {
  const out: ClockSample[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(',').map((s) => s.trim());
    if (f.length !== 4) continue;
    const m = TIMESTAMP.exec(f[0]!);
    const smMhz = Number(f[1]);
    const powerW = Number(f[2]);
    if (!m || f[1] === '' || f[2] === '' || !Number.isFinite(smMhz) || !Number.isFinite(powerW) || !/^0x[0-9a-fA-F]+$/.test(f[3]!)) continue;
    const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
    out.push({ t: new Date(y, mo - 1, d, h, mi, s, ms).getTime(), smMhz, powerW, powerCapped: (BigInt(f[3]!) & SW_POWER_CAP) !== 0n });
  }
  return out;
}

/** The reading of the samples taken inside any of `windows` (start and end inclusive, ms since the epoch); undefined when none was. */
export function readingOf(samples: readonly ClockSample[], windows: readonly { readonly start: number; readonly end: number }[]): ClockReading | undefined {
  const inside = samples.filter((s) => windows.some((w) => s.t >= w.start && s.t <= w.end));
  if (inside.length === 0) return undefined;
  return {
    smMhz: median(inside.map((s) => s.smMhz)),
    powerW: median(inside.map((s) => s.powerW)),
    samples: inside.length,
    powerCappedShare: inside.filter((s) => s.powerCapped).length / inside.length,
  };
}

/** nvidia-smi sampling one device until stop(). */
export class ClockSampler {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #closed: Promise<void>;
  #text = '';

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.#text += chunk;
    });
    child.stderr.resume();
    // A child that fails after the probe (it ran once) ends the sampling; its samples so far stand.
    this.#closed = new Promise((resolve) => {
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    });
  }

  /**
   * Starts sampling the device with this PCI bus id (CudaDeviceInfo.pciBusId) every `periodMs`,
   * or says why it cannot: no nvidia-smi on PATH, or one that reads no sample of that device.
   */
  static start(pciBusId: string, periodMs = 20): ClockSampler | { readonly reason: string } {
    for (const reasons of REASON_FIELDS) {
      const query = [`--query-gpu=timestamp,clocks.sm,power.draw,${reasons}`, '--format=csv,noheader,nounits', '-i', pciBusId];
      const probe = spawnSync('nvidia-smi', query, { encoding: 'utf8', timeout: 10_000 });
      if (probe.error) return { reason: `nvidia-smi: ${probe.error.message}` };
      if (probe.status !== 0 || parseClockSamples(probe.stdout).length === 0) continue;
      return new ClockSampler(spawn('nvidia-smi', [...query, '-lms', String(periodMs)]));
    }
    return { reason: `nvidia-smi reads no clock and power sample of the device at ${pciBusId}` };
  }

  /** Stops sampling; every sample taken. */
  async stop(): Promise<ClockSample[]> {
    this.#child.kill('SIGTERM');
    await this.#closed;
    return parseClockSamples(this.#text);
  }
}
