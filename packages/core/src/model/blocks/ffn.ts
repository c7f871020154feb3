import type { Handles } from '../../kernels/spec.js';
import type { LayerWeights } from '../weights.js';
import { type BlockContext, quantize, traced } from './context.js';

/**
 * x += ffn_down( ffn_sub_norm( act(ffn_gate·m) · ffn_up·m ) ),  m = ffn_norm(x);  act = relu² (bitnet-b1.58 /
 * bitnet-25) or silu (llama.cpp's `bitnet`). Diff with Llama: the sub-norm, and relu² instead of silu for 2B4T.
 */
export function ffnBlock<H extends Handles>(ctx: BlockContext<H>, layer: number, w: LayerWeights<H>): void {
  const { be, state: s, config: c, rows } = ctx;
  be.rmsNorm(s.xb, s.x, w.ffn_norm, c.rmsEps, rows);
  traced(ctx, 'ffn_norm', layer, s.xb);
  quantize(ctx, s.xb_q, s.xb);
  be.ternaryMatmul(s.gate, s.xb_q, w.ffn_gate, rows);
  be.ternaryMatmul(s.up, s.xb_q, w.ffn_up, rows);
  traced(ctx, 'ffn_gate', layer, s.gate);
  traced(ctx, 'ffn_up', layer, s.up);
  be.gatedActivation(s.ffn_act, s.gate, s.up, c.activation, rows);
  traced(ctx, 'ffn_act', layer, s.ffn_act);
  be.rmsNorm(s.ffn_sub, s.ffn_act, w.ffn_sub_norm, c.rmsEps, rows);
  traced(ctx, 'ffn_sub_norm', layer, s.ffn_sub);
  quantize(ctx, s.ffn_sub_q, s.ffn_sub);
  be.ternaryMatmul(s.ffn_out, s.ffn_sub_q, w.ffn_down, rows);
  traced(ctx, 'ffn_out', layer, s.ffn_out);
  be.add(s.x, s.x, s.ffn_out, rows);
  traced(ctx, 'ffn_residual', layer, s.x);
}
