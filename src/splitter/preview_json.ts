/** Reading a split preview back from its JSON form (as stored in a saved lowered module), field by field. */
import { isDType, type DType } from '../tensor/dtype.js';
import { SplitPreview, type BoundaryValue, type NodeReason, type OpKindStats, type SubgraphSummary } from './preview.js';

function field(o: unknown, key: string, what: string): unknown {
  if (o === null || typeof o !== 'object') throw new TypeError(`${what} is not an object`);
  return Reflect.get(o, key);
}

function str(o: unknown, key: string, what: string): string {
  const v = field(o, key, what);
  if (typeof v !== 'string') throw new TypeError(`${what}.${key} is not a string`);
  return v;
}

function num(o: unknown, key: string, what: string): number {
  const v = field(o, key, what);
  if (typeof v !== 'number') throw new TypeError(`${what}.${key} is not a number`);
  return v;
}

function list<T>(o: unknown, key: string, what: string, item: (v: unknown, where: string) => T): T[] {
  const v = field(o, key, what);
  if (!Array.isArray(v)) throw new TypeError(`${what}.${key} is not a list`);
  return v.map((x, i) => item(x, `${what}.${key}[${i}]`));
}

function dtypeOf(v: unknown, where: string): DType {
  if (!isDType(v)) throw new TypeError(`${where} is not a dtype`);
  return v;
}

function kindStats(v: unknown, where: string): OpKindStats {
  return { op: str(v, 'op', where), count: num(v, 'count', where), inputDtypes: list(v, 'inputDtypes', where, dtypeOf) };
}

function nodeReason(v: unknown, where: string): NodeReason {
  return { node: str(v, 'node', where), op: str(v, 'op', where), reason: str(v, 'reason', where) };
}

function boundary(v: unknown, where: string): BoundaryValue {
  const name = str(v, 'name', where);
  const kind = field(v, 'kind', where);
  if (typeof kind === 'string') return { name, kind };
  const shape = list(v, 'shape', where, (d, w) => {
    if (typeof d !== 'number') throw new TypeError(`${w} is not a number`);
    return d;
  });
  return { name, shape, dtype: dtypeOf(field(v, 'dtype', where), `${where}.dtype`) };
}

function subgraph(v: unknown, where: string): SubgraphSummary {
  const kind = str(v, 'kind', where);
  if (kind !== 'acc' && kind !== 'cpu') throw new TypeError(`${where}.kind must be 'acc' or 'cpu'`);
  return {
    name: str(v, 'name', where), kind, nodeCount: num(v, 'nodeCount', where),
    inputs: list(v, 'inputs', where, boundary), outputs: list(v, 'outputs', where, boundary),
  };
}

/**
 * Rebuilds a preview from its JSON form, checking every field; throws a TypeError naming the
 * first malformed one.
 *
 * @example
 * const preview = previewFromJSON(JSON.parse(JSON.stringify(SplitPreview.of(result))));
 */
export function previewFromJSON(raw: unknown): SplitPreview {
  const what = 'preview';
  return new SplitPreview({
    minAccModuleSize: num(raw, 'minAccModuleSize', what),
    supported: list(raw, 'supported', what, kindStats),
    unsupported: list(raw, 'unsupported', what, (v, w) => ({ ...kindStats(v, w), nodes: list(v, 'nodes', w, nodeReason) })),
    demoted: list(raw, 'demoted', what, nodeReason),
    subgraphs: list(raw, 'subgraphs', what, subgraph),
  });
}
