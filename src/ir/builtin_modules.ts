import type { Module } from '../nn/module.js';

/** Module classes that symbolicTrace keeps as call_module leaves by default (the built-in layers). */
const builtinLeafClasses = new Set<Function>();

/** Marks a layer class as built-in: a call_module leaf for symbolicTrace, inlined by accTrace. */
export function registerBuiltinModule(cls: Function): void {
  builtinLeafClasses.add(cls);
}

export function isBuiltinModule(m: Module): boolean {
  return builtinLeafClasses.has(m.constructor);
}
