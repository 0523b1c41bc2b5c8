import type { DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { getitem, type GraphFunction } from './function.js';
import type { AnyNode, TensorMeta } from './node.js';
import type { Kwargs } from './signature.js';

const MAX_LAZY_ELEMENTS = 1024;

/** Raised when traced code does something a symbolic value cannot support (control flow, data access). */
export class TraceError extends Error {
  override name = 'TraceError';
}

/** What a traced value asks of the tracer that made it. */
export interface TracerHooks {
  onFunction(fn: GraphFunction, args: readonly unknown[], kwargs: Kwargs): unknown;
  onMethod(method: string, self: TraceProxy, args: readonly unknown[], kwargs: Kwargs): unknown;
  /** Where in user code we are, for error messages. */
  userLocation(): string;
}

/**
 * A traced value: stands in for a tensor (or a size, or a tuple) while `forward` runs
 * under a tracer, and records every operation on it as a node. It is a Tensor so traced
 * code type-checks, but it has no data.
 */
export class TraceProxy extends Tensor {
  readonly node: AnyNode;
  readonly tracer: TracerHooks;

  constructor(node: AnyNode, tracer: TracerHooks) {
    super(new Float32Array(1), [], 'float32');
    this.node = node;
    this.tracer = tracer;
  }

  /** Static metadata if the tracer knows it (acc tracing does; symbolic tracing does not). */
  get knownMeta(): TensorMeta | undefined {
    const m = this.node.meta.tensorMeta;
    return m && typeof m === 'object' && 'shape' in m ? m : undefined;
  }

  override get dtype(): DType {
    const m = this.knownMeta;
    if (m) return m.dtype;
    throw new TraceError(`the dtype of traced value '${this.node.name}' is not known while tracing ${this.tracer.userLocation()}`);
  }
  /** A symbolic shape: index it (`x.shape[0]`) to get a traced size. */
  override get shape(): number[] {
    return symbolicShape(this);
  }
  override get data(): never {
    throw new TraceError(`cannot read the data of traced value '${this.node.name}' ${this.tracer.userLocation()}: ` +
      'values are symbolic while tracing (use concreteArgs, or mark the module as a leaf)');
  }
  override get numel(): never {
    throw new TraceError(`numel of traced value '${this.node.name}' is not known while tracing ${this.tracer.userLocation()}`);
  }
  override get rank(): number {
    const m = this.knownMeta;
    if (m) return m.shape.length;
    throw new TraceError(`the rank of traced value '${this.node.name}' is not known while tracing ${this.tracer.userLocation()}`);
  }
  override get ndim(): number { return this.rank; }

  /**
   * Destructuring a traced tuple (`const [a, b] = x.chunk(2)`) records one getitem per element taken.
   * The length is exact when metadata is known; otherwise elements are produced lazily, and spreading
   * a value of unknown length fails instead of looping forever.
   */
  *[Symbol.iterator](): IterableIterator<unknown> {
    const m = this.node.meta.tensorMeta;
    const known = Array.isArray(m) ? m.length : undefined;
    const limit = known ?? MAX_LAZY_ELEMENTS;
    for (let i = 0; i < limit; i++) yield this.tracer.onFunction(getitem, [this, i], {});
    if (known === undefined) {
      throw new TraceError(`iterated over more than ${MAX_LAZY_ELEMENTS} elements of traced value '${this.node.name}', whose length is unknown while tracing ${this.tracer.userLocation()}`);
    }
  }

  [Symbol.toPrimitive](hint: string): string {
    if (hint === 'string') return `Proxy(${this.node.name})`;
    throw new TraceError(
      `traced value '${this.node.name}' was used as a ${hint === 'number' ? 'number' : 'primitive'} ${this.tracer.userLocation()}: ` +
      'control flow and arithmetic on traced values cannot be recorded (use tensor ops, concreteArgs, or a leaf module)');
  }
  override toString(): string { return `Proxy(${this.node.name})`; }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return `Proxy(${this.node.name})`; }
}

/** `x.shape` of a traced value: indexing records `getitem(size(x), i)`. */
function symbolicShape(p: TraceProxy): number[] {
  const target: number[] = [];
  return new Proxy(target, {
    get(t, key) {
      if (typeof key === 'string' && /^-?\d+$/.test(key)) {
        return p.tracer.onMethod('size', p, [Number(key)], {});
      }
      if (key === 'length') {
        const m = p.knownMeta;
        if (m) return m.shape.length;
        throw new TraceError(`the rank of traced value '${p.node.name}' is not known while tracing ${p.tracer.userLocation()}; index the shape instead (x.shape[0])`);
      }
      if (key === Symbol.iterator) {
        const m = p.knownMeta;
        if (!m) {
          throw new TraceError(`cannot iterate over the shape of traced value '${p.node.name}' ${p.tracer.userLocation()}: its rank is unknown; index it instead (x.shape[0])`);
        }
        return function* () { for (let i = 0; i < m.shape.length; i++) yield p.tracer.onMethod('size', p, [i], {}); };
      }
      return Reflect.get(t, key);
    },
  }) as number[];
}

/** Finds the tracer behind any traced value in an argument structure. */
export function findTracer(args: readonly unknown[], kwargs?: Kwargs): TracerHooks | undefined {
  const visit = (x: unknown): TracerHooks | undefined => {
    if (x instanceof TraceProxy) return x.tracer;
    if (Array.isArray(x)) {
      for (const y of x) { const t = visit(y); if (t) return t; }
    }
    return undefined;
  };
  for (const a of args) { const t = visit(a); if (t) return t; }
  if (kwargs) for (const v of Object.values(kwargs)) { const t = visit(v); if (t) return t; }
  return undefined;
}
