import type { Handles } from '../../kernels/spec.js';
import type { LayerWeights } from '../weights.js';
import { type BlockContext, quantize, traced } from './context.js';

/**
 * x += attn_output( attn_sub_norm( Attention( RoPE(attn_q·n), RoPE(attn_k·n), attn_v·n ) ) ),  n = attn_norm(x)
 * (diff with Llama: the sub-norm before the output projection, and BitLinear = int8 activations × ternary weights).
 */
export function attentionBlock<H extends Handles>(ctx: BlockContext<H>, layer: number, w: LayerWeights<H>): void {
  const { be, state: s, config: c, rows } = ctx;
  be.rmsNorm(s.xb, s.x, w.attn_norm, c.rmsEps, rows);
  traced(ctx, 'attn_norm', layer, s.xb);
  quantize(ctx, s.xb_q, s.xb);
  be.ternaryMatmul(s.q, s.xb_q, w.attn_q, rows);
  be.ternaryMatmul(s.k, s.xb_q, w.attn_k, rows);
  be.ternaryMatmul(s.v, s.xb_q, w.attn_v, rows);
  traced(ctx, 'q', layer, s.q);
  traced(ctx, 'k', layer, s.k);
  traced(ctx, 'v', layer, s.v);
  be.rope(s.q, c.heads, ctx.batch, ctx.rope);
  be.rope(s.k, c.kvHeads, ctx.batch, ctx.rope);
  traced(ctx, 'q_rope', layer, s.q);
  traced(ctx, 'k_rope', layer, s.k);
  be.kvStore(ctx.kv, layer, s.k, s.v, ctx.batch);
  be.attention(s.att, s.q, ctx.kv, layer, ctx.batch, ctx.attention);
  traced(ctx, 'att', layer, s.att);
  be.rmsNorm(s.att_sub, s.att, w.attn_sub_norm, c.rmsEps, rows);
  traced(ctx, 'attn_sub_norm', layer, s.att_sub);
  quantize(ctx, s.att_sub_q, s.att_sub);
  be.ternaryMatmul(s.attn_out, s.att_sub_q, w.attn_output, rows);
  traced(ctx, 'attn_out', layer, s.attn_out);
  be.add(s.x, s.x, s.attn_out, rows);
  traced(ctx, 'attn_residual', layer, s.x);
}
