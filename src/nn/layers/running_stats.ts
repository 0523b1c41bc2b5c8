/** Running-statistics bookkeeping shared by the batch and instance norm layers (train mode, eager only). */
import { Tensor } from '../../tensor/tensor.js';
import { F } from '../functional.js';

/** Per-channel mean and unbiased variance of a [N, C, ...] input over `dims`; `count` values per statistic. */
export function channelStats(input: Tensor, dims: readonly number[], count: number): { mean: Tensor; unbiasedVar: Tensor } {
  const mean = F.mean(input, dims, true);
  const centered = F.sub(input, mean);
  const biased = F.mean(F.mul(centered, centered), dims);
  // PyTorch's running variance uses the unbiased estimate n/(n−1)·var (count > 1 is checked by the normalization itself).
  return { mean: F.flatten(mean), unbiasedVar: F.mul(biased, count / (count - 1)) };
}

/** running ← (1 − factor)·running + factor·batch, in place (the buffer keeps its identity). */
export function blendInto(running: Tensor, batch: Tensor, factor: number): void {
  const next = F.add(F.mul(running, 1 - factor), F.mul(batch, factor));
  running.setData(next.dtype === running.dtype ? next.data : next.castTo(running.dtype).data);
}

/** Increments an int64 counter buffer in place and returns its new value. */
export function incrementCounter(counter: Tensor): number {
  counter.setData(F.add(counter, 1).data);
  return counter.item();
}
