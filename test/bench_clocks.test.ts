/**
 * The benchmark's clock and power samples (scripts/bench_clocks.ts): nvidia-smi's lines parsed, and
 * the reading of the samples inside an engine's timed windows.
 */
import { describe, expect, it } from 'vitest';
import { ClockSampler, parseClockSamples, readingOf } from '../scripts/bench_clocks.js';

describe('bench clocks (scripts/bench_clocks.ts)', () => {
  it('parses nvidia-smi samples: local timestamp, SM MHz, board W, and the software power cap bit of the reasons', () => {
    const text = [
      '2026/11/24 10:00:00.020, 1980, 209.95, 0x0000000000000000',
      '2026/11/24 10:00:00.040, 1560, 683.89, 0x0000000000000004',
      '2026/11/24 10:00:00.060, 1410, 701.12, 0x0000000000000005',
      '2026/11/24 10:00:00.080, 1500, [N/A], 0x0000000000000004', // unreadable power: left out
      '2026/11/24 10:00:00.100, 1500, 690.00, [N/A]',
      'garbage',
      '',
    ].join('\n');
    const s = parseClockSamples(text);
    expect(s.map((v) => [v.smMhz, v.powerW, v.powerCapped])).toEqual([[1980, 209.95, false], [1560, 683.89, true], [1410, 701.12, true]]);
    expect(s[0]!.t).toBe(new Date(2026, 10, 24, 10, 0, 0, 20).getTime());
    expect(s[2]!.t - s[0]!.t).toBe(40);
  });

  it('reads the medians of the samples inside the windows (ends included) and the share under the power cap', () => {
    const at = (t: number, smMhz: number, powerW: number, powerCapped: boolean) => ({ t, smMhz, powerW, powerCapped });
    const samples = [at(0, 1980, 200, false), at(10, 1500, 700, true), at(20, 1600, 690, true), at(30, 1900, 300, false), at(40, 1400, 705, true), at(50, 1000, 100, false)];
    expect(readingOf(samples, [{ start: 10, end: 20 }, { start: 40, end: 45 }])).toEqual({ smMhz: 1500, powerW: 700, samples: 3, powerCappedShare: 1 });
    expect(readingOf(samples, [{ start: 0, end: 30 }])).toEqual({ smMhz: 1750, powerW: 495, samples: 4, powerCappedShare: 0.5 });
    expect(readingOf(samples, [{ start: 51, end: 60 }])).toBeUndefined();
    expect(readingOf([], [{ start: 0, end: 60 }])).toBeUndefined();
  });

  it('says why it cannot sample where nvidia-smi is not found', () => {
    const path = process.env.PATH;
    process.env.PATH = '';
    try {
      const s = ClockSampler.start('0000:19:00.0');
      expect(s).not.toBeInstanceOf(ClockSampler);
      expect((s as { reason: string }).reason).toMatch(/^nvidia-smi: .*ENOENT/);
    } finally {
      process.env.PATH = path;
    }
  });
});
