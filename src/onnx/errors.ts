/**
 * Errors of ONNX import. Every failure while reading or converting a model is an OnnxError that
 * says what is wrong and where (the tensor, node, attribute or byte range), so a bad file or an
 * unsupported op never surfaces as a bare TypeError from deep inside the importer.
 */

/** Where in a model an import error happened; each part is optional. */
export interface OnnxLocation {
  /** The ONNX node's name (or, when it has none, its first output). */
  readonly node?: string;
  readonly opType?: string;
  /** The opset version the node is read with. */
  readonly opset?: number;
  /** A tensor (initializer, input, output) by name. */
  readonly tensor?: string;
}

/**
 * An ONNX model could not be read or imported. `message` names the op type, node and opset (or
 * the tensor) at fault and what was expected.
 *
 * @example
 * try { importOnnx(bytes); } catch (e) { if (e instanceof OnnxError) console.error(e.location.node, e.message); }
 */
export class OnnxError extends Error {
  override name = 'OnnxError';
  readonly location: OnnxLocation;

  constructor(message: string, location: OnnxLocation = {}, options?: ErrorOptions) {
    super(`${describeLocation(location)}${message}`, options);
    this.location = location;
  }
}

/** An op the importer has no mapping for (and `allowUnsupported` was not set). */
export class OnnxUnsupportedOpError extends OnnxError {
  override name = 'OnnxUnsupportedOpError';
}

/** 'node 'conv1' (Conv, opset 13): ' style prefix for messages. */
export function describeLocation(loc: OnnxLocation): string {
  const parts: string[] = [];
  if (loc.node !== undefined) {
    const op = loc.opType === undefined ? '' : ` (${loc.opType}${loc.opset === undefined ? '' : `, opset ${loc.opset}`})`;
    parts.push(`node '${loc.node}'${op}`);
  } else if (loc.opType !== undefined) parts.push(`${loc.opType}${loc.opset === undefined ? '' : ` (opset ${loc.opset})`}`);
  if (loc.tensor !== undefined) parts.push(`tensor '${loc.tensor}'`);
  return parts.length ? `${parts.join(', ')}: ` : '';
}

/** Runs `fn`, turning any non-OnnxError it throws into an OnnxError at `location` (the cause is kept). */
export function withLocation<T>(location: OnnxLocation, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OnnxError) throw e;
    throw new OnnxError(e instanceof Error ? e.message : String(e), location, { cause: e });
  }
}
