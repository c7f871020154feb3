/** Hugging Face (BitNet / Llama) tensor names → GGUF names, and back. */
const LAYER = /^model\.layers\.(\d+)\.(.+)$/;

const LAYER_MAP: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.attn_sub_norm.weight': 'attn_sub_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.ffn_sub_norm.weight': 'ffn_sub_norm.weight',
};
const GLOBAL_MAP: Record<string, string> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};
const LAYER_BACK = Object.fromEntries(Object.entries(LAYER_MAP).map(([a, b]) => [b, a]));
const GLOBAL_BACK = Object.fromEntries(Object.entries(GLOBAL_MAP).map(([a, b]) => [b, a]));

/** The GGUF name of an HF tensor, or undefined for names Trine does not use (e.g. rotary inv_freq). */
export function hfToGgufName(name: string): string | undefined {
  const g = GLOBAL_MAP[name];
  if (g) return g;
  const m = LAYER.exec(name);
  if (!m) return undefined;
  const rest = LAYER_MAP[m[2]!];
  return rest ? `blk.${Number(m[1])}.${rest}` : undefined;
}

export function ggufToHfName(name: string): string | undefined {
  const g = GLOBAL_BACK[name];
  if (g) return g;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (!m) return undefined;
  const rest = LAYER_BACK[m[2]!];
  return rest ? `model.layers.${m[1]}.${rest}` : undefined;
}

/** HF `weight_scale` tensor beside a packed projection weight. */
export function weightScaleName(hfWeightName: string): string {
  return hfWeightName.replace(/\.weight$/, '.weight_scale');
}
