import type { GraphModule } from '../ir/graph_module.js';
import { definePass } from './pass_manager.js';

/**
 * Removes nodes whose values nothing uses (keeping inputs, the output and impure calls),
 * then the module attributes no node reads any more.
 *
 * @example
 * const { modified } = eliminateDeadCode(gm);
 */
export const eliminateDeadCode = definePass('eliminateDeadCode', (gm: GraphModule) => {
  const changed = gm.graph.eliminateDeadCode();
  const removed = gm.deleteUnusedAttributes();
  return { gm, modified: changed || removed.length > 0 };
});
