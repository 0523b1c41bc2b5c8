/**
 * Repair of the Cast some exporters put between QuantizeLinear and DequantizeLinear.
 *
 * PyTorch's eager-mode quantization export (seed: "PyTorch Eager Mode Quantization TensorRT
 * Acceleration") writes `QuantizeLinear(x, s, zp:int8) → Cast(to=UINT8) → DequantizeLinear(·, s,
 * Cast(zp, to=UINT8))` for int8 activations: it loses the signedness of the quantized value. Run as
 * written, every negative quantized value q wraps to q + 256 and dequantizes to (q + 256 - zp) * s,
 * a wrong number (ONNX Runtime computes exactly that); TensorRT's parser refuses the pattern.
 *
 * The repair, done on the node list before import: for each Cast(to=UINT8) whose input is the output
 * of a QuantizeLinear with an INT8 zero point and whose every consumer is a DequantizeLinear reading
 * it as `x`, each such DequantizeLinear is rewired to read the QuantizeLinear's int8 output directly,
 * and its zero point is replaced by the QuantizeLinear's int8 zero point (its scale is kept). The
 * Cast (and a Cast of the zero point, if any) is left without consumers and dropped as dead code.
 * The result is the fake quantization the exporter meant: DQ(Q(x)). A warning names each repair.
 */
import { OnnxDataType } from './dtypes.js';
import type { NodeProto } from './proto/onnx_model_pb.js';

/** One repaired Q → Cast → DQ chain, by node names. */
export interface QdqCastRepair {
  readonly cast: string;
  readonly quantize: string;
  readonly dequantize: readonly string[];
}

/** A node's name, or its first output when it has none. */
export function nodeLabel(n: NodeProto): string {
  return n.name !== '' ? n.name : n.output[0] ?? n.opType;
}

/**
 * Rewires DequantizeLinear inputs as described in the module comment; mutates the `input` lists of
 * the affected DequantizeLinear nodes. `typeOf` gives the element type of a constant (initializer or
 * Constant output) by name, when known. `graphOutputs` are never rewired away.
 */
export function repairQdqCasts(nodes: readonly NodeProto[], typeOf: (name: string) => number | undefined,
  graphOutputs: ReadonlySet<string>): QdqCastRepair[] {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output) if (o !== '') producer.set(o, n);
    for (const i of n.input) {
      if (i === '') continue;
      let list = consumers.get(i);
      if (!list) consumers.set(i, (list = []));
      list.push(n);
    }
  }
  const repairs: QdqCastRepair[] = [];
  for (const cast of nodes) {
    if (cast.opType !== 'Cast' || cast.domain !== '' && cast.domain !== 'ai.onnx') continue;
    const to = cast.attribute.find((a) => a.name === 'to');
    if (to === undefined || Number(to.i) !== OnnxDataType.UINT8) continue;
    const q = producer.get(cast.input[0] ?? '');
    if (q === undefined || q.opType !== 'QuantizeLinear') continue;
    const zp = q.input[2] ?? '';
    if (zp === '' || typeOf(zp) !== OnnxDataType.INT8) continue;
    const out = cast.output[0] ?? '';
    const users = consumers.get(out) ?? [];
    if (graphOutputs.has(out) || users.length === 0) continue;
    if (!users.every((u) => u.opType === 'DequantizeLinear' && u.input[0] === out && u.input.indexOf(out, 1) < 0)) continue;
    for (const dq of users) {
      dq.input[0] = q.output[0]!;
      if (dq.input.length < 3) dq.input.push(zp);
      else dq.input[2] = zp;
    }
    repairs.push({ cast: nodeLabel(cast), quantize: nodeLabel(q), dequantize: users.map(nodeLabel) });
  }
  return repairs;
}
