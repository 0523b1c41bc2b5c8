/** Multi-head attention (torch.nn.MultiheadAttention), built on F.linear and F.scaledDotProductAttention. */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';
import { constant_, xavierUniform_ } from '../init.js';
import { Module, Parameter } from '../module.js';
import { boolArg, checkInputRank, intArg, numberArg } from './args.js';
import { Linear } from './linear.js';
import { registerLayer, type LayerConfig } from './registry.js';

/** Constructor options of MultiheadAttention. */
export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights in train mode (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and output are [batch, seq, embed] (default false: [seq, batch, embed]). */
  batchFirst?: boolean;
}

/** Per-call options of MultiheadAttention.forward. */
export interface AttentionCallOptions {
  /** [L, S] or [batch·heads, L, S]: boolean (true = may NOT attend, as PyTorch) or additive float. */
  attnMask?: Tensor | null;
  /** [batch, S]: boolean (true = padding, ignored) or additive float. */
  keyPaddingMask?: Tensor | null;
  /** Also return the attention weights (default false, unlike PyTorch: the fused path is the common one). */
  needWeights?: boolean;
  /** Average the returned weights over heads (default true). */
  averageAttnWeights?: boolean;
  /** attnMask is the causal mask: attend with a causal mask instead when there is no key padding mask. */
  isCausal?: boolean;
}

/** A boolean "may not attend" mask as an additive float mask (−inf where masked). */
function additive(mask: Tensor, dtype: Tensor['dtype']): Tensor {
  return mask.dtype === 'bool' ? F.where(mask, -Infinity, 0).to(dtype) : mask;
}

/**
 * Multi-head attention with PyTorch's parameters: packed in_proj_weight [3E, E] and
 * in_proj_bias [3E] (xavier-uniform / zeros), and out_proj, a Linear(E, E). The fused path
 * is F.scaledDotProductAttention; with needWeights the weights are computed explicitly.
 *
 * @example
 * const mha = new nn.MultiheadAttention(768, 12, { batchFirst: true });
 * const out = mha.forward(x, x, x); // x: [batch, seq, 768] → [batch, seq, 768]
 * const [o, w] = mha.forward(x, x, x, { needWeights: true }); // w: [batch, seq, seq]
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  in_proj_weight: Parameter;
  in_proj_bias: Parameter | null;
  out_proj: Linear;

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    this.embedDim = intArg('MultiheadAttention', 'embedDim', embedDim);
    this.numHeads = intArg('MultiheadAttention', 'numHeads', numHeads);
    if (this.embedDim % this.numHeads !== 0) {
      throw new RangeError(`MultiheadAttention: embedDim (${this.embedDim}) must be divisible by numHeads (${this.numHeads})`);
    }
    this.headDim = this.embedDim / this.numHeads;
    this.dropout = numberArg('MultiheadAttention', 'dropout', opts.dropout ?? 0, 0, 1);
    this.batchFirst = boolArg('MultiheadAttention', 'batchFirst', opts.batchFirst ?? false);
    const withBias = boolArg('MultiheadAttention', 'bias', opts.bias ?? true);
    // PyTorch builds out_proj first, then resets the packed projection (xavier) and zeroes the biases.
    const outProj = new Linear(this.embedDim, this.embedDim, { bias: withBias });
    this.in_proj_weight = new Parameter(xavierUniform_(Tensor.empty([3 * this.embedDim, this.embedDim])));
    this.in_proj_bias = withBias ? new Parameter(Tensor.zeros([3 * this.embedDim])) : null;
    if (outProj.bias) constant_(outProj.bias, 0);
    this.out_proj = outProj;
  }

  override forward(query: Tensor, key: Tensor, value: Tensor, opts?: AttentionCallOptions & { needWeights?: false }): Tensor;
  override forward(query: Tensor, key: Tensor, value: Tensor, opts: AttentionCallOptions & { needWeights: true }): [Tensor, Tensor];
  override forward(query: Tensor, key: Tensor, value: Tensor, opts: AttentionCallOptions = {}): Tensor | [Tensor, Tensor] {
    for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
      checkInputRank('MultiheadAttention', t, [3], `a 3D (batched) ${name}`);
    }
    const selfAttention = query === key && key === value;
    // Work batch-first, [N, L, E]; PyTorch works sequence-first, which moves the same values.
    const toBatchFirst = (t: Tensor): Tensor => (this.batchFirst ? t : F.transpose(t, 0, 1));
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    if (selfAttention) {
      [q, k, v] = F.chunk(F.linear(toBatchFirst(query), this.in_proj_weight, this.in_proj_bias), 3, { dim: -1 });
    } else {
      // Eager ops on weights: traced graphs hold the three slices as constants.
      const [wq, wk, wv] = F.chunk(this.in_proj_weight, 3);
      const [bq, bk, bv] = this.in_proj_bias ? F.chunk(this.in_proj_bias, 3) : [null, null, null];
      q = F.linear(toBatchFirst(query), wq, bq);
      k = F.linear(toBatchFirst(key), wk, bk);
      v = F.linear(toBatchFirst(value), wv, bv);
    }
    const heads = (t: Tensor): Tensor => F.transpose(F.reshape(t, [t.size(0), -1, this.numHeads, this.headDim]), 1, 2);
    const [qh, kh, vh] = [heads(q), heads(k), heads(v)];
    const { mask, isCausal } = this.#mask(opts, qh, opts.needWeights === true);
    const dropoutP = this.training ? this.dropout : 0;
    let attended: Tensor;
    let weights: Tensor | null = null;
    if (opts.needWeights === true) {
      let scores = F.matmul(F.mul(qh, Math.sqrt(1 / this.headDim)), F.transpose(kh, -2, -1));
      if (mask) scores = F.add(scores, mask);
      weights = F.softmax(scores, -1);
      const dropped = dropoutP > 0 ? F.dropout(weights, { p: dropoutP, training: true }) : weights;
      attended = F.matmul(dropped, vh);
    } else {
      attended = F.scaledDotProductAttention(qh, kh, vh, { attnMask: mask, dropoutP, isCausal });
    }
    let out = this.out_proj.forward(F.flatten(F.transpose(attended, 1, 2), 2));
    if (!this.batchFirst) out = F.transpose(out, 0, 1);
    if (weights === null) return out;
    return [out, opts.averageAttnWeights === false ? weights : F.mean(weights, 1)];
  }

  /**
   * Merges attnMask and keyPaddingMask into one mask broadcastable to [N, H, L, S]: a boolean
   * "may attend" mask for the fused path when both are boolean, an additive float mask otherwise.
   */
  #mask(opts: AttentionCallOptions, qh: Tensor, needWeights: boolean): { mask: Tensor | null; isCausal: boolean } {
    let attn = opts.attnMask ?? null;
    const padding = opts.keyPaddingMask ?? null;
    if (opts.isCausal === true && attn === null) {
      throw new TypeError('MultiheadAttention: isCausal needs the causal attnMask as well (as PyTorch: it is a hint, not a mask)');
    }
    if (opts.isCausal === true && padding === null && !needWeights) return { mask: null, isCausal: true };
    if (attn !== null && attn.rank === 3) attn = F.reshape(attn, [-1, this.numHeads, attn.size(1), attn.size(2)]);
    const pad = padding === null ? null : F.unsqueeze(F.unsqueeze(padding, 1), 1);
    const masks = [attn, pad].filter((m): m is Tensor => m !== null);
    if (masks.length === 0) return { mask: null, isCausal: false };
    if (!needWeights && masks.every((m) => m.dtype === 'bool')) {
      const blocked = masks.length === 2 ? F.logicalOr(masks[0]!, masks[1]!) : masks[0]!;
      return { mask: F.logicalNot(blocked), isCausal: false };
    }
    const floats = masks.map((m) => additive(m, qh.dtype));
    return { mask: floats.length === 2 ? F.add(floats[0]!, floats[1]!) : floats[0]!, isCausal: false };
  }

  config(): LayerConfig {
    return {
      args: [this.embedDim, this.numHeads],
      options: { dropout: this.dropout, bias: this.in_proj_bias !== null, batchFirst: this.batchFirst },
    };
  }
}
registerLayer(MultiheadAttention);
