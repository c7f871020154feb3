import type { AttentionParams } from '../../kernels/spec.js';
import { roundF16 } from '../../quant/f16.js';
import type { RefBatch, RefKvCache, RefTensor } from '../storage.js';

const fr = Math.fround;

/**
 * Causal GQA over the cache, as llama.cpp computes it without flash attention:
 * - q rounded to f16 when the cache is f16; score_t = f32(q·k_t) (dot products summed in f64, rounded once);
 * - softmax in f32 with the scale inside: w_t = f32(score_t · scale), e_t = f32(exp(f32(w_t − max))), Σe in f64,
 *   p_t = f32(e_t · f32(1/Σe)); p_t rounded to f16 when `roundProbsF16`;
 * - out = f32(Σ_t p_t · v_t). Query head h reads KV head floor(h / (H / Hkv)).
 */
export function attention(
  out: RefTensor,
  q: RefTensor,
  cache: RefKvCache,
  layer: number,
  batch: RefBatch,
  p: AttentionParams,
): void {
  const { heads: H, kvHeads: Hkv, headDim: Dh } = p;
  const group = H / Hkv;
  const half = cache.spec.dtype === 'f16';
  const qs = q.data as Float32Array;
  const o = out.data as Float32Array;
  const kc = cache.k[layer]!;
  const vc = cache.v[layer]!;
  const qh = new Float64Array(Dh);
  const acc = new Float64Array(Dh);
  let probs = new Float32Array(64);
  for (let i = 0; i < batch.n; i++) {
    const pos = batch.positions[i]!;
    const slot = batch.slots[i]!;
    if (probs.length < pos + 1) probs = new Float32Array(pos + 1);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      const qb = (i * H + h) * Dh;
      for (let d = 0; d < Dh; d++) qh[d] = half ? roundF16(qs[qb + d]!) : qs[qb + d]!;
      let max = -Infinity;
      for (let t = 0; t <= pos; t++) {
        const kb = cache.offset(slot, t) + kvh * Dh;
        let dot = 0;
        for (let d = 0; d < Dh; d++) dot += qh[d]! * kc[kb + d]!;
        const w = fr(fr(dot) * p.scale);
        probs[t] = w;
        if (w > max) max = w;
      }
      let sum = 0;
      for (let t = 0; t <= pos; t++) {
        const e = fr(Math.exp(fr(probs[t]! - max)));
        probs[t] = e;
        sum += e;
      }
      const inv = fr(1 / sum);
      acc.fill(0);
      for (let t = 0; t <= pos; t++) {
        let pt = fr(probs[t]! * inv);
        if (p.roundProbsF16) pt = roundF16(pt);
        const vb = cache.offset(slot, t) + kvh * Dh;
        for (let d = 0; d < Dh; d++) acc[d] = acc[d]! + pt * vc[vb + d]!;
      }
      const ob = i * H * Dh + h * Dh;
      for (let d = 0; d < Dh; d++) o[ob + d] = acc[d]!;
    }
  }
}
