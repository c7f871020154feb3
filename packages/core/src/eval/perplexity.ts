/**
 * Perplexity as llama.cpp's llama-perplexity measures it. The text's tokens are cut into consecutive windows of
 * `ctx`; each window is evaluated from position 0 with its first token replaced by BOS (when the tokenizer adds one),
 * and only its second half is scored (each of those tokens predicts the next one with at least ctx/2 tokens of
 * context). Perplexity = exp(mean NLL); its standard error is ppl · sqrt(var(NLL) / (N − 1)), as llama-perplexity
 * prints it. `trine perplexity` and the figures of training/README.md use it.
 */
import { invalidArgument } from '../errors/index.js';
import type { Handles, KernelBackend } from '../kernels/spec.js';
import type { BitNetModel } from '../model/bitnet.js';

/** Logits rows [first, n − 1) of one window (row j predicts token j + 1), flattened [(n − 1 − first), vocab]. */
export type WindowLogits = (window: Int32Array, first: number) => Promise<Float32Array>;

export interface PerplexityResult {
  readonly perplexity: number;
  /** Standard error of the perplexity (llama-perplexity's ±). */
  readonly stderr: number;
  /** Mean negative log-likelihood per scored token, in nats. */
  readonly nll: number;
  readonly windows: number;
  readonly scored: number;
  /** Tokens evaluated (windows × ctx), for throughput. */
  readonly evaluated: number;
}

/** −log softmax(row)[target], in f64 (the row's max subtracted first). */
export function tokenNll(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return Math.log(sum) - (row[target]! - max);
}

/**
 * exp(mean NLL) of tokens (first, n) from `rows`, the logits of rows [first, n − 1) as WindowLogits gives them
 * (every position after `first` scored; no windows, no standard error).
 */
export function sequencePerplexity(rows: Float32Array, tokens: ArrayLike<number>, vocab: number, first = 0): number {
  let nll = 0;
  for (let j = first; j + 1 < tokens.length; j++) nll += tokenNll(rows.subarray((j - first) * vocab, (j - first + 1) * vocab), tokens[j + 1]!);
  return Math.exp(nll / (tokens.length - 1 - first));
}

/**
 * Scores `tokens` in windows of `ctx` (llama-perplexity's method; a trailing part shorter than a window is not
 * scored). `bos` replaces each window's first token when set.
 */
export async function perplexity(
  tokens: readonly number[],
  ctx: number,
  vocab: number,
  bos: number | undefined,
  logits: WindowLogits,
): Promise<PerplexityResult> {
  const windows = Math.floor(tokens.length / ctx);
  if (windows < 1) throw invalidArgument('--text', `has ${tokens.length} tokens, fewer than one window of --ctx ${ctx}`);
  const first = Math.floor(ctx / 2);
  let sum = 0;
  let sum2 = 0;
  let scored = 0;
  for (let w = 0; w < windows; w++) {
    const window = Int32Array.from(tokens.slice(w * ctx, (w + 1) * ctx));
    if (bos !== undefined) window[0] = bos;
    const rows = await logits(window, first);
    for (let j = first; j < ctx - 1; j++) {
      // Targets come from the text, not the window: the first token of a window is never a target, so BOS changes none.
      const v = tokenNll(rows.subarray((j - first) * vocab, (j - first + 1) * vocab), tokens[w * ctx + j + 1]!);
      sum += v;
      sum2 += v * v;
      scored++;
    }
  }
  const nll = sum / scored;
  const ppl = Math.exp(nll);
  const variance = sum2 / scored - nll * nll;
  const stderr = variance > 0 && scored > 1 ? ppl * Math.sqrt(variance / (scored - 1)) : 0;
  return { perplexity: ppl, stderr, nll, windows, scored, evaluated: windows * ctx };
}

/** WindowLogits on a loaded model: one forward step per window from position 0 of slot 0. */
export function modelWindowLogits<H extends Handles>(model: BitNetModel<H>, backend: KernelBackend<H>): WindowLogits {
  return async (window, first) => {
    const n = window.length;
    const out = model.forward({
      tokens: window,
      positions: Int32Array.from(window, (_, i) => i),
      slots: new Int32Array(n),
      logitsFor: Int32Array.from({ length: n - 1 - first }, (_, i) => first + i),
    });
    const host = await backend.read(out, n - 1 - first);
    return host.data as Float32Array;
  };
}
