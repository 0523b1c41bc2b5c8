import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { deserializePlan, PLAN_VERSION, PlanFormatError, serializePlan, type Plan } from '../src/engine/plan.js';
import { build, constant, conv2d, layer, newNet, randn, relu, run } from './engine_helpers.js';

async function sampleEngine(): Promise<Engine> {
  const net = newNet('sample');
  const x = net.addInput('x', 'float32', [-1, 2, 5, 5], { min: [1, 2, 5, 5], opt: [2, 2, 5, 5], max: [3, 2, 5, 5] });
  const w = constant(net, randn([3, 2, 3, 3], 1), 'w');
  const c = layer(net, 'convolution', [x, w, constant(net, randn([3], 2), 'b')], conv2d(3, 3, 1), 'conv');
  const r = layer(net, 'activation', [c], relu, 'relu');
  // Non-finite and negative-zero params must survive JSON.
  const clipped = layer(net, 'activation', [r], { op: 'clip', alpha: -Infinity, beta: 0.75 }, 'clip');
  const padded = layer(net, 'padding', [clipped], { prePadding: [1, 0], postPadding: [0, 1], value: -0 }, 'pad');
  const h = layer(net, 'cast', [padded], { toType: 'float16' }, 'half');
  net.markOutput(layer(net, 'cast', [layer(net, 'unary', [h], { op: 'sqrt' }, 'sqrt')], { toType: 'float32' }, 'back'), 'y');
  return build(net, { precision: 'fp16' });
}

/** Sets the CRC of serialized bytes after an edit, so checks behind the CRC can be reached. */
function withFixedCrc(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

describe('plan serialization', () => {
  it('round-trips to the same plan and bit-identical outputs', async () => {
    const engine = await sampleEngine();
    const bytes = engine.serialize();
    const again = Engine.deserialize(bytes);
    const { blob: b1, ...h1 } = engine.plan;
    const { blob: b2, ...h2 } = again.plan;
    expect(h2).toEqual(h1);
    expect(Array.from(b2)).toEqual(Array.from(b1));
    const clip = again.plan.steps.find((s) => s.layers.includes('clip'));
    expect(clip?.kind === 'activation' && clip.params.alpha).toBe(-Infinity);
    const pad = again.plan.steps.find((s) => s.kind === 'padding');
    expect(pad?.kind === 'padding' && Object.is(pad.params.value, -0)).toBe(true);
    for (const batch of [1, 3]) {
      const x = randn([batch, 2, 5, 5], batch);
      const [a] = await run(engine, [x]);
      const [b] = await run(again, [x]);
      expect(Array.from(b!.bytes())).toEqual(Array.from(a!.bytes()));
    }
    // Serializing the loaded plan gives the same bytes.
    expect(Array.from(again.serialize())).toEqual(Array.from(bytes));
  });

  it('lays out magic, version, aligned blob and checksum', async () => {
    const bytes = (await sampleEngine()).serialize();
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('FXRT');
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint32(4, true)).toBe(PLAN_VERSION);
    const blobOffset = Number(view.getBigUint64(16, true));
    expect(blobOffset % view.getUint32(12, true)).toBe(0);
    expect(view.getUint32(bytes.length - 4, true)).toBe(crc32(bytes.subarray(0, bytes.length - 4)));
  });

  it('rejects truncated, corrupted, foreign and wrong-version data with clear errors', async () => {
    const bytes = (await sampleEngine()).serialize();
    const expectError = (data: Uint8Array, message: RegExp): void => {
      expect(() => deserializePlan(data)).toThrow(PlanFormatError);
      expect(() => deserializePlan(data)).toThrow(message);
    };
    expectError(bytes.subarray(0, bytes.length - 100), /plan is truncated: the header announces \d+ bytes, got \d+/);
    expectError(bytes.subarray(0, 10), /shorter than the 36-byte minimum/);
    const flipped = bytes.slice();
    flipped[flipped.length - 20]! ^= 0x01;
    expectError(flipped, /plan is corrupted: CRC-32 is 0x[0-9a-f]{8}, the file records 0x[0-9a-f]{8}/);
    const headerFlip = bytes.slice();
    headerFlip[40]! ^= 0x20;
    expectError(headerFlip, /plan is corrupted/);
    const foreign = bytes.slice();
    foreign.set([0x50, 0x4b, 0x03, 0x04], 0);
    expectError(foreign, /does not start with the magic 'FXRT'/);
    const future = bytes.slice();
    new DataView(future.buffer).setUint32(4, PLAN_VERSION + 1, true);
    expectError(future, new RegExp(`version ${PLAN_VERSION + 1} is not supported: this build reads version ${PLAN_VERSION}`));
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expectError(longer, /3 trailing bytes/);
  });

  it('rejects structurally invalid plans behind a valid checksum', async () => {
    const plan = (await sampleEngine()).plan;
    const tamper = (edit: (p: Plan) => Plan): Uint8Array => withFixedCrc(serializePlan(edit(plan)));
    expect(() => deserializePlan(tamper((p) => ({ ...p, steps: p.steps.map((s, i) => (i === 0 ? { ...s, inputs: [999] } : s)) }))))
      .toThrow(/step 0 \('conv'\) names a value that does not exist/);
    expect(() => deserializePlan(tamper((p) => ({ ...p, constants: p.constants.map((c) => ({ ...c, byteLength: c.byteLength + 4 })) }))))
      .toThrow(/does not fit the \d+-byte blob/);
    expect(() => deserializePlan(tamper((p) => ({ ...p, memory: { ...p.memory, arenaSize: 8 } }))))
      .toThrow(/lies outside the 8-byte arena/);
    expect(() => deserializePlan(tamper((p) => ({ ...p, steps: p.steps.map((s) => ({ ...s, kind: 'fft' }) as never) }))))
      .toThrow(/step 0 \('conv'\) has unknown kind 'fft'/);
  });

  it('deserializes from an unaligned view of a larger buffer', async () => {
    const engine = await sampleEngine();
    const bytes = engine.serialize();
    const big = new Uint8Array(bytes.length + 7);
    big.set(bytes, 3);
    const again = Engine.deserialize(big.subarray(3, 3 + bytes.length));
    const x = randn([2, 2, 5, 5], 9);
    expect(Array.from((await run(again, [x]))[0]!.bytes())).toEqual(Array.from((await run(engine, [x]))[0]!.bytes()));
  });
});
