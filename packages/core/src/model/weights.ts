/**
 * BitNet b1.58 weights and run state, llama2.c style: every weight has a shape comment, every intermediate a name
 * (so a trace hook can dump it and diff it against another engine's eval callback).
 */
import type { Handles, QuantizedActs } from '../kernels/spec.js';

/** One transformer block. D = hidden, F = ffn, H = heads, Hkv = kv heads, Dh = head dim. Ternary shapes are [out, in]. */
export interface LayerWeights<H extends Handles> {
  readonly attn_norm: H['tensor']; // f32 [D]
  readonly attn_q: H['ternary']; // [H·Dh, D]
  readonly attn_k: H['ternary']; // [Hkv·Dh, D]
  readonly attn_v: H['ternary']; // [Hkv·Dh, D]
  readonly attn_sub_norm: H['tensor']; // f32 [H·Dh]
  readonly attn_output: H['ternary']; // [D, H·Dh]
  readonly ffn_norm: H['tensor']; // f32 [D]
  readonly ffn_gate: H['ternary']; // [F, D]
  readonly ffn_up: H['ternary']; // [F, D]
  readonly ffn_sub_norm: H['tensor']; // f32 [F]
  readonly ffn_down: H['ternary']; // [D, F]
}

export interface BitNetWeights<H extends Handles> {
  readonly token_embd: H['matrix']; // [V, D] (f16 in bitnet.cpp / llama.cpp files)
  readonly output_norm: H['tensor']; // f32 [D]
  /** The LM head [V, D]: token_embd itself when the model ties them and the format matches. */
  readonly output: H['matrix'];
  readonly layers: readonly LayerWeights<H>[];
}

/**
 * Per-step buffers, allocated once with a row capacity `cap` (max tokens per chunk) and reused by every layer.
 * Names follow the paper / llama.cpp graph so dumps line up with theirs.
 */
export interface RunState<H extends Handles> {
  readonly cap: number;
  readonly x: H['tensor']; // f32 [cap, D] the residual stream
  readonly xb: H['tensor']; // f32 [cap, D] attn_norm(x) / ffn_norm(x)
  readonly xb_q: QuantizedActs<H['tensor']>; // int8 [cap, D] xb quantized (shared by q/k/v and by gate/up)
  readonly q: H['tensor']; // f32 [cap, H·Dh]
  readonly k: H['tensor']; // f32 [cap, Hkv·Dh]
  readonly v: H['tensor']; // f32 [cap, Hkv·Dh]
  readonly att: H['tensor']; // f32 [cap, H·Dh] attention output, heads concatenated
  readonly att_sub: H['tensor']; // f32 [cap, H·Dh] attn_sub_norm(att)
  readonly att_sub_q: QuantizedActs<H['tensor']>; // int8 [cap, H·Dh]
  readonly attn_out: H['tensor']; // f32 [cap, D] attn_output · att_sub
  readonly gate: H['tensor']; // f32 [cap, F]
  readonly up: H['tensor']; // f32 [cap, F]
  readonly ffn_act: H['tensor']; // f32 [cap, F] act(gate) · up
  readonly ffn_sub: H['tensor']; // f32 [cap, F] ffn_sub_norm(ffn_act)
  readonly ffn_sub_q: QuantizedActs<H['tensor']>; // int8 [cap, F]
  readonly ffn_out: H['tensor']; // f32 [cap, D] ffn_down · ffn_sub
  readonly x_final: H['tensor']; // f32 [cap, D] output_norm(x)
  readonly logits: H['tensor']; // f32 [cap, V]
}

/** Called after each named intermediate is computed (layer −1 outside the blocks); for dumps and debugging. */
export type TraceHook<H extends Handles> = (name: string, layer: number, t: H['tensor'], rows: number) => void;
