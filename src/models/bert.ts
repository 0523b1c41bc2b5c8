/**
 * A BERT encoder (HuggingFace's BertLayer / BertEncoder layout and parameter names) on
 * post-embedding hidden states [batch, seq, hidden]: self-attention through
 * F.scaledDotProductAttention, exact GELU, post-LN residuals, dropout as nn.Dropout.
 */
import type { Tensor } from '../tensor/tensor.js';
import { F } from '../nn/functional.js';
import { constant_, manualSeed, normal_, zeros_ } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { nn } from '../nn/index.js';

/** BERT's size and regularization settings (BERT-base by default). */
export interface BertConfig {
  /** Default 768 (BERT-base). */
  hiddenSize?: number;
  /** Default 12. */
  numAttentionHeads?: number;
  /** Default 3072. */
  intermediateSize?: number;
  /** Default 1e-12. */
  layerNormEps?: number;
  /** Dropout after the attention output and the feed-forward output (default 0.1). */
  hiddenDropoutProb?: number;
  /** Dropout on the attention probabilities in train mode (default 0.1). */
  attentionProbsDropoutProb?: number;
}

type Resolved = Required<BertConfig>;

function resolve(c: BertConfig): Resolved {
  const r: Resolved = {
    hiddenSize: c.hiddenSize ?? 768,
    numAttentionHeads: c.numAttentionHeads ?? 12,
    intermediateSize: c.intermediateSize ?? 3072,
    layerNormEps: c.layerNormEps ?? 1e-12,
    hiddenDropoutProb: c.hiddenDropoutProb ?? 0.1,
    attentionProbsDropoutProb: c.attentionProbsDropoutProb ?? 0.1,
  };
  if (r.hiddenSize % r.numAttentionHeads !== 0) {
    throw new RangeError(`BertConfig: hiddenSize (${r.hiddenSize}) must be divisible by numAttentionHeads (${r.numAttentionHeads})`);
  }
  return r;
}

/**
 * The [batch, seq] attention mask as sdpa's [batch, 1, 1, seq] mask: boolean (true = attend) or
 * additive float (0 to attend, a large negative number to ignore).
 */
function extendMask(mask: Tensor | null): Tensor | null {
  return mask === null ? null : F.unsqueeze(F.unsqueeze(mask, 1), 1);
}

/**
 * Query/key/value projections and scaled dot-product attention over heads (BertSelfAttention).
 *
 * @example
 * new BertSelfAttention({}).forward(Tensor.randn([1, 8, 768]), null).shape; // [1, 8, 768]
 */
export class BertSelfAttention extends Module {
  query: nn.Linear;
  key: nn.Linear;
  value: nn.Linear;
  readonly numAttentionHeads: number;
  readonly attentionHeadSize: number;
  readonly attentionProbsDropoutProb: number;

  constructor(config: BertConfig) {
    super();
    const c = resolve(config);
    this.query = new nn.Linear(c.hiddenSize, c.hiddenSize);
    this.key = new nn.Linear(c.hiddenSize, c.hiddenSize);
    this.value = new nn.Linear(c.hiddenSize, c.hiddenSize);
    this.numAttentionHeads = c.numAttentionHeads;
    this.attentionHeadSize = c.hiddenSize / c.numAttentionHeads;
    this.attentionProbsDropoutProb = c.attentionProbsDropoutProb;
  }

  /** [N, L, hidden] → [N, heads, L, headSize]; the sequence length is left to reshape's −1. */
  #heads(x: Tensor): Tensor {
    return F.transpose(F.reshape(x, [x.size(0), -1, this.numAttentionHeads, this.attentionHeadSize]), 1, 2);
  }

  override forward(hiddenStates: Tensor, attentionMask: Tensor | null = null): Tensor {
    const context = F.scaledDotProductAttention(
      this.#heads(this.query.forward(hiddenStates)),
      this.#heads(this.key.forward(hiddenStates)),
      this.#heads(this.value.forward(hiddenStates)),
      { attnMask: extendMask(attentionMask), dropoutP: this.training ? this.attentionProbsDropoutProb : 0 },
    );
    return F.flatten(F.transpose(context, 1, 2), 2);
  }
}

/** dense → dropout → LayerNorm(· + input): the post-LN residual after attention (BertSelfOutput). */
export class BertSelfOutput extends Module {
  dense: nn.Linear;
  LayerNorm: nn.LayerNorm;
  dropout: nn.Dropout;

  constructor(config: BertConfig) {
    super();
    const c = resolve(config);
    this.dense = new nn.Linear(c.hiddenSize, c.hiddenSize);
    this.LayerNorm = new nn.LayerNorm(c.hiddenSize, { eps: c.layerNormEps });
    this.dropout = new nn.Dropout({ p: c.hiddenDropoutProb });
  }

  override forward(hiddenStates: Tensor, inputTensor: Tensor): Tensor {
    return this.LayerNorm.forward(F.add(this.dropout.forward(this.dense.forward(hiddenStates)), inputTensor));
  }
}

/** Self-attention plus its output block (BertAttention). */
export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertSelfOutput;

  constructor(config: BertConfig) {
    super();
    this.self = new BertSelfAttention(config);
    this.output = new BertSelfOutput(config);
  }

  override forward(hiddenStates: Tensor, attentionMask: Tensor | null = null): Tensor {
    return this.output.forward(this.self.forward(hiddenStates, attentionMask), hiddenStates);
  }
}

/** dense (hidden → intermediate) → exact GELU (BertIntermediate). */
export class BertIntermediate extends Module {
  dense: nn.Linear;
  intermediate_act_fn = new nn.GELU();

  constructor(config: BertConfig) {
    super();
    const c = resolve(config);
    this.dense = new nn.Linear(c.hiddenSize, c.intermediateSize);
  }

  override forward(hiddenStates: Tensor): Tensor {
    return this.intermediate_act_fn.forward(this.dense.forward(hiddenStates));
  }
}

/** dense (intermediate → hidden) → dropout → LayerNorm(· + input) (BertOutput). */
export class BertOutput extends Module {
  dense: nn.Linear;
  LayerNorm: nn.LayerNorm;
  dropout: nn.Dropout;

  constructor(config: BertConfig) {
    super();
    const c = resolve(config);
    this.dense = new nn.Linear(c.intermediateSize, c.hiddenSize);
    this.LayerNorm = new nn.LayerNorm(c.hiddenSize, { eps: c.layerNormEps });
    this.dropout = new nn.Dropout({ p: c.hiddenDropoutProb });
  }

  override forward(hiddenStates: Tensor, inputTensor: Tensor): Tensor {
    return this.LayerNorm.forward(F.add(this.dropout.forward(this.dense.forward(hiddenStates)), inputTensor));
  }
}

/** BERT's Linear N(0, 0.02) / zero-bias and LayerNorm (1, 0) initialization over a module tree. */
function initBertWeights(root: Module): void {
  for (const m of root.modules()) {
    if (m instanceof nn.Linear) {
      normal_(m.weight, 0, 0.02);
      if (m.bias) zeros_(m.bias);
    } else if (m instanceof nn.LayerNorm) {
      if (m.weight) constant_(m.weight, 1);
      if (m.bias) zeros_(m.bias);
    }
  }
}

/**
 * One encoder layer: attention, intermediate, output (HuggingFace's BertLayer).
 * `attentionMask` is [batch, seq]: boolean (true = attend) or additive float.
 *
 * @example
 * const layer = new BertLayer({}).eval();
 * layer.forward(Tensor.randn([2, 8, 768])).shape; // [2, 8, 768]
 */
export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertOutput;

  constructor(config: BertConfig = {}) {
    super();
    this.attention = new BertAttention(config);
    this.intermediate = new BertIntermediate(config);
    this.output = new BertOutput(config);
    initBertWeights(this);
  }

  override forward(hiddenStates: Tensor, attentionMask: Tensor | null = null): Tensor {
    const attended = this.attention.forward(hiddenStates, attentionMask);
    return this.output.forward(this.intermediate.forward(attended), attended);
  }
}

/**
 * A stack of BertLayers in `layer` (a ModuleList, as HuggingFace names it).
 *
 * @example
 * const enc = new BertEncoder(2, {}).eval();
 * enc.forward(Tensor.randn([1, 8, 768]), mask).shape; // [1, 8, 768]
 */
export class BertEncoder extends Module {
  layer: nn.ModuleList;
  readonly #layers: BertLayer[];

  constructor(numLayers: number, config: BertConfig = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new RangeError(`BertEncoder: numLayers must be an integer >= 1, got ${numLayers}`);
    this.#layers = Array.from({ length: numLayers }, () => new BertLayer(config));
    this.layer = new nn.ModuleList(this.#layers);
  }

  override forward(hiddenStates: Tensor, attentionMask: Tensor | null = null): Tensor {
    let h = hiddenStates;
    for (const layer of this.#layers) h = layer.forward(h, attentionMask);
    return h;
  }
}

/**
 * One BERT-base encoder layer (hidden 768, 12 heads, intermediate 3072), input [batch, seq, 768];
 * reseeds the global generator with `seed` (default 0).
 *
 * @example
 * const layer = bertEncoderLayer().eval();
 * symbolicTrace(layer, { concreteArgs: { attentionMask: null } });
 */
export function bertEncoderLayer(opts: BertConfig & { seed?: number } = {}): BertLayer {
  const { seed, ...config } = opts;
  manualSeed(seed ?? 0);
  return new BertLayer(config);
}

/**
 * A BERT-base encoder of `numLayers` layers (12 for BERT-base), input [batch, seq, 768].
 *
 * @example
 * const enc = bertEncoder(12).eval();
 */
export function bertEncoder(numLayers = 12, opts: BertConfig & { seed?: number } = {}): BertEncoder {
  const { seed, ...config } = opts;
  manualSeed(seed ?? 0);
  return new BertEncoder(numLayers, config);
}
