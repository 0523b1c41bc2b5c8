/**
 * The built-in layer registry: which classes symbolicTrace keeps as call_module leaves,
 * and how a layer is rebuilt from its class name and `config()` (serialization, codegen).
 */
import { registerBuiltinModule } from '../../ir/tracer.js';
import type { Module } from '../module.js';

/**
 * Constructor arguments that rebuild a layer: `new Cls(...args, options)` makes an
 * equal layer (same hyper-parameters, freshly initialized weights).
 */
export interface LayerConfig {
  readonly args: unknown[];
  readonly options: Record<string, unknown>;
}

/** A module that can describe how to rebuild itself. */
export interface ConfigurableModule extends Module {
  config(): LayerConfig;
}

/** A built-in layer class, constructible from a LayerConfig's args and options. */
export type LayerClass = new (...args: never[]) => ConfigurableModule;

const classes = new Map<string, LayerClass>();

function addClass(cls: LayerClass): void {
  const prev = classes.get(cls.name);
  if (prev && prev !== cls) throw new Error(`a built-in layer class named '${cls.name}' is already registered`);
  classes.set(cls.name, cls);
}

/** Registers a leaf layer: recorded as one call_module node by symbolicTrace, inlined by accTrace. */
export function registerLayer(cls: LayerClass): void {
  addClass(cls);
  registerBuiltinModule(cls);
}

/** Registers a container (Sequential, ModuleList): rebuildable by name, but traced through. */
export function registerContainer(cls: LayerClass): void {
  addClass(cls);
}

/**
 * Every built-in layer class by class name, for deserialization.
 *
 * @example
 * const Cls = builtinModuleClasses().get('Conv2d');
 */
export function builtinModuleClasses(): Map<string, LayerClass> {
  return new Map(classes);
}

/**
 * Rebuilds a layer of a registered class from its config (weights freshly initialized).
 *
 * @example
 * const copy = buildLayer('Linear', new nn.Linear(4, 2).config());
 */
export function buildLayer(className: string, config: LayerConfig): ConfigurableModule {
  const cls = classes.get(className);
  if (!cls) throw new Error(`unknown built-in layer class '${className}' (known: ${[...classes.keys()].join(', ')})`);
  // The registry forgets each constructor's parameter types; the constructors check their arguments at run time.
  const ctor = cls as new (...args: unknown[]) => ConfigurableModule;
  return new ctor(...config.args, config.options);
}
