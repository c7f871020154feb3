import type { BitNetArch } from '../../model/config.js';
import { roundF16 } from '../../quant/f16.js';
import { randomBitnetContents, type RandomWeightValues } from '../../random-model/index.js';
import type { GgufValue } from '../gguf/types.js';
import { type GgufWriteTensor, gv, writeGguf } from '../gguf/writer.js';

/** A small deterministic PRNG (xorshift32) so generated models are reproducible. */
export class TestRng {
  private x: number;
  constructor(seed: number) { this.x = (seed >>> 0) || 0x9e3779b9; }
  next(): number {
    let x = this.x;
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    this.x = x;
    return x;
  }
  int(n: number): number { return this.next() % n; }
  float(): number { return this.next() / 2 ** 32; }
  codes(n: number): Int8Array { const c = new Int8Array(n); for (let i = 0; i < n; i++) c[i] = this.int(3) - 1; return c; }
}

export interface TinyModelOptions {
  arch?: BitNetArch;
  ternary?: 'I2_S' | 'TQ1_0' | 'TQ2_0';
  embd?: 'F16' | 'F32' | 'BF16';
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  layers?: number;
  vocab?: number;
  context?: number;
  /** Add `blk.N.*.scale` tensors (arch bitnet only). */
  scaleTensors?: boolean;
  seed?: number;
}

export interface TinyModel {
  bytes: Uint8Array;
  metadata: Map<string, GgufValue>;
  tensors: GgufWriteTensor[];
  /** Row-major codes and the scales as stored, per projection name. */
  ternary: Map<string, { codes: Int8Array; scales: Float32Array; rows: number; cols: number }>;
  /** Per-tensor `.scale` values, when written. */
  extraScales: Map<string, number>;
  options: Required<TinyModelOptions>;
}

/** The metadata and tensors of a small valid BitNet model (the random-model builder with xorshift32 draws). */
export function buildTinyModel(opts: TinyModelOptions = {}): TinyModel {
  const o: Required<TinyModelOptions> = {
    arch: 'bitnet-b1.58', ternary: 'I2_S', embd: 'F16', hidden: 256, heads: 4, kvHeads: 2, ffn: 512, layers: 1,
    vocab: 260, context: 128, scaleTensors: false, seed: 7, ...opts,
  };
  const rng = new TestRng(o.seed);
  const tokens = Array.from({ length: o.vocab }, (_, i) => (i < 256 ? `b${i.toString(16)}` : `m${i}`));
  const types = new Int32Array(o.vocab).fill(1);
  types[o.vocab - 1] = 3;
  const ternary: TinyModel['ternary'] = new Map();
  const extraScales = new Map<string, number>();
  const weights: RandomWeightValues = {
    floats(t, n) {
      if (t.role === 'embedding') return Float32Array.from({ length: n }, () => 0.3 * (rng.float() - 0.5));
      if (t.role === 'norm') return Float32Array.from({ length: n }, () => 1 + 0.2 * (rng.float() - 0.5));
      const s = 0.25 + rng.int(6) / 8; // never 1, so folding is visible
      extraScales.set(t.name.replace(/\.scale$/, '.weight'), s);
      return Float32Array.of(s);
    },
    ternary(t, rows, cols) {
      const codes = rng.codes(rows * cols);
      const scales = o.ternary === 'I2_S'
        ? Float32Array.of(0.05 + 0.01 * rng.int(10))
        : Float32Array.from({ length: (rows * cols) / 256 }, () => 0.05 + 0.01 * rng.int(10));
      // As stored: TQ block scales are f16.
      ternary.set(t.name, { codes, scales: o.ternary === 'I2_S' ? scales : scales.map(roundF16), rows, cols });
      return { codes, scales };
    },
  };
  const { metadata, tensors } = randomBitnetContents({
    arch: o.arch, hidden: o.hidden, layers: o.layers, heads: o.heads, kvHeads: o.kvHeads, ffn: o.ffn, context: o.context,
    ternary: o.ternary, embedding: o.embd, scaleTensors: o.scaleTensors, name: 'tiny-test-model', fileType: 40,
    tokenizer: [
      ['tokenizer.ggml.model', gv.str('gpt2')],
      ['tokenizer.ggml.pre', gv.str('llama-bpe')],
      ['tokenizer.ggml.tokens', gv.strs(tokens)],
      ['tokenizer.ggml.token_type', gv.i32s(types)],
      ['tokenizer.ggml.merges', gv.strs(['b1 b2', 'b3 b4'])],
      ['tokenizer.ggml.bos_token_id', gv.u32(o.vocab - 1)],
      ['tokenizer.ggml.eos_token_id', gv.u32(o.vocab - 2)],
      ['tokenizer.ggml.add_bos_token', gv.bool(true)],
      ['tokenizer.chat_template', gv.str("{% for m in messages %}{{ m['content'] }}{% endfor %}")],
    ],
  }, weights);
  return { bytes: writeGguf(metadata, tensors), metadata: new Map(metadata), tensors, ternary, extraScales, options: o };
}
