/**
 * External data: weights stored beside the model file (TensorProto.data_location = EXTERNAL, with
 * `location`, `offset` and `length` entries). Each tensor is read with one positioned read into its
 * own aligned buffer, so the result is used as the tensor's storage without a further copy.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { OnnxError } from './errors.js';
import type { TensorProto } from './proto/onnx_model_pb.js';

/** Where one tensor's bytes are: a file relative to the model's folder, a byte offset and a length. */
export interface ExternalDataRef {
  readonly location: string;
  readonly offset: number;
  /** Undefined: up to the end of the file. */
  readonly length: number | undefined;
}

/** Reads the `external_data` key/value entries of a tensor; throws naming the tensor for bad entries. */
export function externalDataRef(t: TensorProto): ExternalDataRef {
  let location: string | undefined;
  let offset = 0;
  let length: number | undefined;
  for (const { key, value } of t.externalData) {
    if (key === 'location') location = value;
    else if (key === 'offset' || key === 'length') {
      const n = Number(value);
      if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
        throw new OnnxError(`external data '${key}' must be a non-negative integer, got '${value}'`, { tensor: t.name });
      }
      if (key === 'offset') offset = n; else length = n;
    }
  }
  if (location === undefined || location === '') throw new OnnxError(`external data has no 'location' entry`, { tensor: t.name });
  return { location, offset, length };
}

/**
 * Reads external tensor data relative to a model's folder, keeping files open until `close()`.
 *
 * @example
 * const reader = new ExternalDataReader('/models/vit');
 * try { const bytes = reader.read(tensorProto, 4 * 768 * 768); } finally { reader.close(); }
 */
export class ExternalDataReader {
  readonly baseDir: string | undefined;
  readonly #files = new Map<string, { fd: number; size: number }>();

  constructor(baseDir: string | undefined) {
    this.baseDir = baseDir;
  }

  /** The `expectedBytes` bytes of tensor `t`'s external data, in a fresh (aligned) buffer. */
  read(t: TensorProto, expectedBytes: number): Uint8Array {
    const ref = externalDataRef(t);
    const where = { tensor: t.name };
    if (this.baseDir === undefined) {
      throw new OnnxError(`its data is in external file '${ref.location}', but the model was given as bytes: pass options.baseDir (the folder of the model file)`, where);
    }
    const path = this.#resolve(ref.location, t.name);
    const file = this.#open(path, ref.location, t.name);
    const length = ref.length ?? file.size - ref.offset;
    if (length !== expectedBytes) {
      throw new OnnxError(`external data in '${ref.location}' has length ${length} bytes, but the tensor's type and shape need ${expectedBytes}`, where);
    }
    if (ref.offset + length > file.size) {
      throw new OnnxError(`external data '${ref.location}' is too short: the tensor needs bytes ${ref.offset}..${ref.offset + length}, the file has ${file.size}`, where);
    }
    const out = new Uint8Array(length);
    let done = 0;
    // Bounded: every read advances, and a zero-byte read (file shrank) ends the loop with an error.
    while (done < length) {
      const n = readSync(file.fd, out, done, length - done, ref.offset + done);
      if (n <= 0) throw new OnnxError(`external data '${ref.location}' ended early at byte ${ref.offset + done}`, where);
      done += n;
    }
    return out;
  }

  /** Closes every file opened so far. */
  close(): void {
    for (const { fd } of this.#files.values()) closeSync(fd);
    this.#files.clear();
  }

  #resolve(location: string, tensor: string): string {
    if (isAbsolute(location)) throw new OnnxError(`external data location '${location}' must be relative to the model's folder`, { tensor });
    const base = resolve(this.baseDir!);
    const path = resolve(base, location);
    const rel = relative(base, path);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new OnnxError(`external data location '${location}' points outside the model's folder`, { tensor });
    }
    return path;
  }

  #open(path: string, location: string, tensor: string): { fd: number; size: number } {
    let f = this.#files.get(path);
    if (f) return f;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : `cannot be opened (${code ?? String(e)})`;
      throw new OnnxError(`external data file '${location}' ${why} (looked for ${path})`, { tensor }, { cause: e });
    }
    f = { fd, size: fstatSync(fd).size };
    this.#files.set(path, f);
    return f;
  }
}
