/**
 * The tensor files exchanged with scripts/bench_gpu_peers.py: u32 header length, a JSON header
 * {tensors: [{name, dtype, shape, offset}]}, then the raw little-endian float32 data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Tensor } from '../../src/tensor/tensor.js';

/** Writes named tensors (as float32) to `path`. */
export function writeTensors(path: string, tensors: ReadonlyMap<string, Tensor>): void {
  const entries: { name: string; dtype: 'float32'; shape: number[]; offset: number }[] = [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const data = new Uint8Array(t.castTo('float32').toFloat32().slice().buffer);
    entries.push({ name, dtype: 'float32', shape: t.shape, offset });
    blobs.push(data);
    offset += data.byteLength;
  }
  const header = Buffer.from(JSON.stringify({ tensors: entries }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.byteLength, 0);
  writeFileSync(path, Buffer.concat([length, header, ...blobs]));
}

/** Reads the float32 tensors of `path` by name. */
export function readTensors(path: string): Map<string, Tensor> {
  const bytes = readFileSync(path);
  const length = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8')) as { tensors: { name: string; shape: number[]; offset: number }[] };
  const out = new Map<string, Tensor>();
  for (const e of header.tensors) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    const start = 4 + length + e.offset;
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + count * 4));
    out.set(e.name, Tensor.fromStorage(data, e.shape, 'float32'));
  }
  return out;
}
