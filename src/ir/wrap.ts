import { callFunction } from '../acc_ops/dispatch.js';
import { registerFunction, type GraphFunction } from './function.js';
import type { Kwargs } from './signature.js';

/**
 * Registers a user function as a graph leaf (torch.fx's `wrap`): traced code records one
 * call_function node for it instead of tracing into it, and eager code just calls it. It
 * has no acc mapping, so lowering keeps it outside the engine (the splitter runs it on
 * the interpreter) unless a mapping is registered for its name.
 *
 * @example
 * const myOp = wrap('user.myOp', (x: Tensor) => x.mul(2).add(1));
 * const gm = symbolicTrace((x: Tensor) => myOp(x).relu()); // %myOp = call_function[target=user.myOp]
 */
export function wrap<A extends unknown[], R>(name: string, fn: (...args: A) => R, opts: { impure?: boolean } = {}): ((...args: A) => R) & { graphFunction: GraphFunction } {
  const gf = registerFunction({
    name,
    signature: { params: [{ name: 'args', rest: true }] },
    ...(opts.impure ? { impure: true } : {}),
    invoke: (args: readonly unknown[], kwargs: Kwargs) =>
      (fn as (...a: unknown[]) => unknown)(...args, ...(Object.keys(kwargs).length ? [kwargs] : [])),
  });
  const call = (...args: A): R => callFunction(gf, args) as R;
  return Object.assign(call, { graphFunction: gf });
}
