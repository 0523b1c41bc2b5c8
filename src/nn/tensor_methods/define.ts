import { callMethod, defineMethod, getMethod } from '../../acc_ops/dispatch.js';
import type { MappingRule } from '../../acc_ops/mapping.js';
import { TraceProxy } from '../../ir/proxy.js';
import type { Signature } from '../../ir/signature.js';
import { Tensor } from '../../tensor/tensor.js';
import { cleanCallArgs, functionalSpec, unpackTraced, type Arity, type RuleFactory } from '../functional/define.js';

/**
 * Defines tensor method `name` by its acc mapping (the receiver is the signature's first
 * parameter) and installs it on Tensor.prototype, so `x.name(...)` runs eagerly, records a
 * call_method node while tracing, and becomes acc ops under accTrace.
 *
 * @example
 * installMethod('relu', sig('input'), { to: 'relu' });
 * x.relu();
 */
export function installMethod(name: string, signature: Signature, rule: MappingRule | RuleFactory | { inplaceOf: string }, arity?: Arity): void {
  if (name in Tensor.prototype) throw new Error(`Tensor.${name} already exists; a tensor method cannot replace it`);
  const what = `Tensor.${name}`;
  defineMethod(name, signature, typeof rule === 'function' ? rule(what) : rule);
  Object.defineProperty(Tensor.prototype, name, {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function (this: Tensor, ...raw: unknown[]): unknown {
      const args = cleanCallArgs(raw);
      const result = callMethod(name, this, args);
      return arity && result instanceof TraceProxy ? unpackTraced(result, arity, signature, [this, ...args], what) : result;
    },
  });
}

/** Installs method `name` with the signature and mapping of `F.<fname>` (the receiver is its first argument). */
export function installFromF(name: string, fname = name): void {
  const spec = functionalSpec(fname);
  installMethod(name, spec.signature, spec.rule, spec.arity);
}

/** Installs `name_`, which writes the result of method `name` into the receiver (in its dtype) and returns it. */
export function installInplace(name: string): void {
  const functional = getMethod(name);
  if (!functional) throw new Error(`in-place method '${name}_' needs method '${name}' to be installed first`);
  installMethod(`${name}_`, functional.signature, { inplaceOf: name });
}
