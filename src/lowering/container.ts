/**
 * A small self-checking binary frame for saved engines and lowered modules: a 4-byte magic,
 * a version, a UTF-8 JSON header and 64-byte-aligned binary sections, closed by a CRC-32 of
 * every byte before it, so truncated or corrupted files are rejected before anything is parsed.
 *
 *     [0, 4)   magic
 *     [4, 8)   u32 version
 *     [8, 12)  u32 header length H
 *     [12, 16) u32 section count S
 *     [16, 16+H) header JSON: { ..., sections: [{ offset, length }] } (offsets from the data start)
 *     zero padding to a multiple of 64: the data start; sections at 64-aligned offsets
 *     4 bytes  CRC-32 (zlib)
 */
import { crc32 } from 'node:zlib';

const PREFIX = 16;
const ALIGN = 64;

/** Raised for bytes that are not a valid saved engine or lowered module; says what is wrong. */
export class SavedFormatError extends Error {
  override name = 'SavedFormatError';
}

interface SectionEntry {
  readonly offset: number;
  readonly length: number;
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Frames a JSON header and binary sections.
 *
 * @example
 * const bytes = writeFrame('FXEM', 1, { name: 'part' }, [planBytes]);
 */
export function writeFrame(magic: string, version: number, header: Record<string, unknown>, sections: readonly Uint8Array[]): Uint8Array {
  if (magic.length !== 4) throw new RangeError(`writeFrame: magic must be 4 characters, got '${magic}'`);
  const entries: SectionEntry[] = [];
  let offset = 0;
  for (const s of sections) {
    entries.push({ offset, length: s.byteLength });
    offset = alignUp(offset + s.byteLength);
  }
  const json = new TextEncoder().encode(JSON.stringify({ ...header, sections: entries }));
  const dataStart = alignUp(PREFIX + json.byteLength);
  const end = dataStart + offset;
  const out = new Uint8Array(end + 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = magic.charCodeAt(i);
  view.setUint32(4, version, true);
  view.setUint32(8, json.byteLength, true);
  view.setUint32(12, sections.length, true);
  out.set(json, PREFIX);
  sections.forEach((s, i) => out.set(s, dataStart + entries[i]!.offset));
  view.setUint32(end, crc32(out.subarray(0, end)), true);
  return out;
}

/**
 * Checks a frame (magic, version, length, checksum) and returns its header and sections
 * (views into `bytes`). `what` names the kind of file in errors.
 *
 * @example
 * const { header, sections } = readFrame(bytes, 'FXEM', 1, 'saved engine');
 */
export function readFrame(bytes: Uint8Array, magic: string, version: number, what: string): { header: Record<string, unknown>; sections: Uint8Array[] } {
  const size = bytes.byteLength;
  for (let i = 0; i < Math.min(4, size); i++) {
    if (bytes[i] !== magic.charCodeAt(i)) throw new SavedFormatError(`not a ${what}: expected magic '${magic}'`);
  }
  if (size < PREFIX + 4) throw new SavedFormatError(`${what} is truncated: ${size} bytes, shorter than the ${PREFIX + 4}-byte minimum`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const v = view.getUint32(4, true);
  if (v !== version) throw new SavedFormatError(`${what} has format version ${v}; this build reads version ${version}`);
  const headerLength = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  const dataStart = alignUp(PREFIX + headerLength);
  if (dataStart + 4 > size) throw new SavedFormatError(`${what} is truncated: its ${headerLength}-byte header does not fit in ${size} bytes`);
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + headerLength)));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the header is not an object');
    header = Object.fromEntries(Object.entries(parsed));
  } catch (e) {
    throw new SavedFormatError(`${what} is corrupted or truncated: its header is not valid JSON (${(e as Error).message})`);
  }
  const entries = header['sections'];
  if (!Array.isArray(entries) || entries.length !== count) throw new SavedFormatError(`${what} is corrupted: the header lists no section table for ${count} section(s)`);
  let end = dataStart;
  const ranges: SectionEntry[] = [];
  for (const [i, e] of entries.entries()) {
    const offset: unknown = e !== null && typeof e === 'object' ? Reflect.get(e, 'offset') : undefined;
    const length: unknown = e !== null && typeof e === 'object' ? Reflect.get(e, 'length') : undefined;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < 0 || (length as number) < 0) {
      throw new SavedFormatError(`${what} is corrupted: section ${i} has no valid offset and length`);
    }
    ranges.push({ offset: offset as number, length: length as number });
    end = Math.max(end, alignUp(dataStart + (offset as number) + (length as number)));
  }
  if (end + 4 > size) throw new SavedFormatError(`${what} is truncated: ${end + 4} bytes expected, got ${size}`);
  if (end + 4 < size) throw new SavedFormatError(`${what} is corrupted: ${size - end - 4} unexpected bytes after the checksum`);
  const stored = view.getUint32(end, true);
  const actual = crc32(bytes.subarray(0, end));
  if (stored !== actual) throw new SavedFormatError(`${what} is corrupted: its CRC-32 is ${hex(actual)}, the file records ${hex(stored)}`);
  const sections = ranges.map((r) => bytes.subarray(dataStart + r.offset, dataStart + r.offset + r.length));
  return { header, sections };
}
