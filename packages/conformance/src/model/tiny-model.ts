import { buildRandomBitnetGguf, gv, roundF16, type BitNetArch, type RandomWeightValues } from '@trine/core';
import { Prng } from '../prng.js';

/** A small BitNet model with random weights, as GGUF bytes written by core's random-model builder (whole-model cases). */
export interface TinyModelSpec {
  arch: BitNetArch;
  ternary: 'I2_S' | 'TQ2_0' | 'TQ1_0';
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  context: number;
  seed: number;
}

/**
 * Weights drawn like the shared fixtures' (README §2) from the kit's own PRNG: F16 embeddings N(0, 0.15), norms
 * 1 + 0.1·N(0, 1), ternary codes uniform with scales in [0.08, 0.20] rounded to F16 (one per block for TQ types),
 * wide enough that attention is not uniform and greedy decoding does not collapse into one repeated token.
 */
function prngWeights(seed: number): RandomWeightValues {
  const rng = new Prng(seed);
  return {
    floats(t, n) {
      if (t.role === 'embedding') return Float32Array.from({ length: n }, () => 0.15 * rng.normal());
      return Float32Array.from({ length: n }, () => 1 + 0.1 * rng.normal());
    },
    ternary(t, rows, cols) {
      const codes = new Int8Array(rows * cols);
      for (let i = 0; i < codes.length; i++) codes[i] = rng.int(-1, 1);
      const scales = Float32Array.from({ length: t.type === 'I2_S' ? 1 : codes.length / 256 }, () => roundF16(rng.uniform(0.08, 0.2)));
      return { codes, scales };
    },
  };
}

export function buildTinyModel(s: TinyModelSpec): Uint8Array {
  const tokens = Array.from({ length: s.vocab }, (_, i) => `t${i}`);
  const types = new Int32Array(s.vocab).fill(1);
  types[s.vocab - 1] = 3; // BOS is a control token
  return buildRandomBitnetGguf({
    ...s,
    name: `conformance-${s.arch}-${s.ternary}`,
    tokenizer: [
      ['tokenizer.ggml.model', gv.str('gpt2')],
      ['tokenizer.ggml.pre', gv.str('llama-bpe')],
      ['tokenizer.ggml.tokens', gv.strs(tokens)],
      ['tokenizer.ggml.token_type', gv.i32s(types)],
      ['tokenizer.ggml.merges', gv.strs([])],
      ['tokenizer.ggml.bos_token_id', gv.u32(s.vocab - 1)],
      ['tokenizer.ggml.eos_token_id', gv.u32(s.vocab - 2)],
      ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ],
  }, prngWeights(s.seed));
}
