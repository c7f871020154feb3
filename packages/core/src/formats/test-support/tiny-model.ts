import type { BitNetArch } from '../../model/config.js';
import { f32ToBf16, f32ToF16 } from '../../quant/f16.js';
import { encodeTernary, ternaryGgufBytes } from '../../quant/ternary.js';
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

function floatTensor(name: string, values: Float32Array, ne: number[], type: 'F32' | 'F16' | 'BF16'): GgufWriteTensor {
  if (type === 'F32') return { name, ne, type, data: new Uint8Array(values.slice().buffer) };
  const h = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) h[i] = type === 'F16' ? f32ToF16(values[i]!) : f32ToBf16(values[i]!);
  return { name, ne, type, data: new Uint8Array(h.buffer) };
}

/** The metadata and tensors of a small valid BitNet model, written by Trine's own writer. */
export function buildTinyModel(opts: TinyModelOptions = {}): TinyModel {
  const o: Required<TinyModelOptions> = {
    arch: 'bitnet-b1.58', ternary: 'I2_S', embd: 'F16', hidden: 256, heads: 4, kvHeads: 2, ffn: 512, layers: 1,
    vocab: 260, context: 128, scaleTensors: false, seed: 7, ...opts,
  };
  const rng = new TestRng(o.seed);
  const p = `${o.arch}.`;
  const tokens = Array.from({ length: o.vocab }, (_, i) => (i < 256 ? `b${i.toString(16)}` : `m${i}`));
  const types = new Int32Array(o.vocab).fill(1);
  types[o.vocab - 1] = 3;
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gv.str(o.arch)],
    ['general.name', gv.str('tiny-test-model')],
    [`${p}vocab_size`, gv.u32(o.vocab)],
    [`${p}context_length`, gv.u32(o.context)],
    [`${p}embedding_length`, gv.u32(o.hidden)],
    [`${p}block_count`, gv.u32(o.layers)],
    [`${p}feed_forward_length`, gv.u32(o.ffn)],
    [`${p}rope.dimension_count`, gv.u32(o.hidden / o.heads)],
    [`${p}attention.head_count`, gv.u32(o.heads)],
    [`${p}attention.head_count_kv`, gv.u32(o.kvHeads)],
    [`${p}attention.layer_norm_rms_epsilon`, gv.f32(1e-5)],
    [`${p}rope.freq_base`, gv.f32(500000)],
    ['general.file_type', gv.u32(40)],
    ['tokenizer.ggml.model', gv.str('gpt2')],
    ['tokenizer.ggml.pre', gv.str('llama-bpe')],
    ['tokenizer.ggml.tokens', gv.strs(tokens)],
    ['tokenizer.ggml.token_type', gv.i32s(types)],
    ['tokenizer.ggml.merges', gv.strs(['b1 b2', 'b3 b4'])],
    ['tokenizer.ggml.bos_token_id', gv.u32(o.vocab - 1)],
    ['tokenizer.ggml.eos_token_id', gv.u32(o.vocab - 2)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.chat_template', gv.str("{% for m in messages %}{{ m['content'] }}{% endfor %}")],
  ]);
  const tensors: GgufWriteTensor[] = [];
  const ternary: TinyModel['ternary'] = new Map();
  const extraScales = new Map<string, number>();
  const norm = (name: string, n: number) =>
    tensors.push(floatTensor(name, Float32Array.from({ length: n }, () => 1 + 0.2 * (rng.float() - 0.5)), [n], 'F32'));
  tensors.push(floatTensor('token_embd.weight', Float32Array.from({ length: o.vocab * o.hidden }, () => 0.3 * (rng.float() - 0.5)), [o.hidden, o.vocab], o.embd));
  norm('output_norm.weight', o.hidden);
  const hd = o.hidden / o.heads;
  for (let l = 0; l < o.layers; l++) {
    const proj = (short: string, inF: number, outF: number) => {
      const name = `blk.${l}.${short}.weight`;
      const codes = rng.codes(inF * outF);
      const blocks = (inF * outF) / 256;
      const scales = o.ternary === 'I2_S'
        ? Float32Array.of(0.05 + 0.01 * rng.int(10))
        : Float32Array.from({ length: blocks }, () => 0.05 + 0.01 * rng.int(10));
      const t = encodeTernary(codes, outF, inF, o.ternary === 'I2_S' ? 'i2_s' : o.ternary === 'TQ1_0' ? 'tq1_0' : 'tq2_0', scales, name);
      tensors.push({ name, ne: [inF, outF], type: o.ternary, data: ternaryGgufBytes(t) });
      ternary.set(name, { codes, scales: t.scales, rows: outF, cols: inF });
      if (o.scaleTensors) {
        const s = 0.25 + rng.int(6) / 8; // never 1, so folding is visible
        extraScales.set(name, s);
        tensors.push(floatTensor(`blk.${l}.${short}.scale`, Float32Array.of(s), [1], 'F32'));
      }
    };
    norm(`blk.${l}.attn_norm.weight`, o.hidden);
    proj('attn_q', o.hidden, o.hidden);
    proj('attn_k', o.hidden, o.kvHeads * hd);
    proj('attn_v', o.hidden, o.kvHeads * hd);
    proj('attn_output', o.hidden, o.hidden);
    norm(`blk.${l}.attn_sub_norm.weight`, o.hidden);
    norm(`blk.${l}.ffn_norm.weight`, o.hidden);
    proj('ffn_gate', o.hidden, o.ffn);
    proj('ffn_up', o.hidden, o.ffn);
    proj('ffn_down', o.ffn, o.hidden);
    norm(`blk.${l}.ffn_sub_norm.weight`, o.ffn);
  }
  return { bytes: writeGguf(metadata, tensors), metadata, tensors, ternary, extraScales, options: o };
}
