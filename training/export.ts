/**
 * Writes the trained model as GGUF with Trine's own writer, from export_weights.py's dump and tokenize.ts's
 * tokenizer: arch bitnet-b1.58 (relu² gated FFN, sub-norms, GQA, tied F16 embedding), projections in I2_S (one f32
 * scale per tensor, exactly the scale the model trained with) or TQ2_0 (the same scale in every 256-block, f16).
 *
 *   npx tsx training/export.ts <weights-prefix> <tokenizer.json> <out.gguf> [I2_S|TQ2_0]
 */
import { readFile } from 'node:fs/promises';
import {
  type GgufValue,
  type GgufWriteTensor,
  type TokenizerSpec,
  TRAINED_DEFAULT_MODEL_NAME,
  bitnetArchMetadata,
  encodeI2S,
  encodeTQ2_0,
  f32ToF16,
  gv,
  tokenizerMetadata,
  writeGgufFile,
} from '../packages/core/src/index.js';

interface DumpEntry {
  name: string;
  kind: 'f32' | 'ternary';
  shape: number[];
  offset: number;
  scale: number | null;
}

interface Dump {
  config: { vocab: number; hidden: number; layers: number; heads: number; kv_heads: number; ffn: number; context: number; rope_theta: number; rms_eps: number };
  step: number;
  tokens: number;
  seconds: number;
  params: number;
  tensors: DumpEntry[];
}

export type TernaryType = 'I2_S' | 'TQ2_0';

/**
 * Positions the file declares: the random default's 512, which serving limits and tests assume (a request of up to
 * 512 tokens). Training used 256-token windows, so positions past 256 are RoPE extrapolation: the text there is
 * worse (training/README.md measures it), never an error.
 */
const DECLARED_CONTEXT = 512;

/** llama.cpp's LLAMA_FTYPE for a file whose projections are all of one type. */
const FILE_TYPE: Record<TernaryType, number> = { I2_S: 40, TQ2_0: 37 };

export async function readTokenizer(path: string): Promise<TokenizerSpec> {
  const raw = JSON.parse(await readFile(path, 'utf8')) as TokenizerSpec & { tokenTypes: number[] };
  return { ...raw, tokenTypes: Int32Array.from(raw.tokenTypes) };
}

export function ggufContents(dump: Dump, bin: Uint8Array, tokenizer: TokenizerSpec, type: TernaryType): { metadata: [string, GgufValue][]; tensors: GgufWriteTensor[] } {
  const c = dump.config;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str('bitnet-b1.58')],
    ['general.name', gv.str(TRAINED_DEFAULT_MODEL_NAME)],
    [
      'general.description',
      gv.str(
        `Trine's default model: BitNet b1.58 (${(dump.params / 1e6).toFixed(1)} M parameters) trained in training/ on the Brown corpus ` +
          `and the King James Bible (${dump.tokens} tokens, ${dump.step} steps). It writes English-like text, not answers.`,
      ),
    ],
    ...bitnetArchMetadata({
      arch: 'bitnet-b1.58', vocab: c.vocab, context: Math.max(c.context, DECLARED_CONTEXT), hidden: c.hidden, layers: c.layers, ffn: c.ffn,
      ropeDim: c.hidden / c.heads, heads: c.heads, kvHeads: c.kv_heads, rmsEps: c.rms_eps, ropeTheta: c.rope_theta,
    }),
    ['general.file_type', gv.u32(FILE_TYPE[type])],
    ...tokenizerMetadata(tokenizer),
  ];
  const tensors: GgufWriteTensor[] = [];
  for (const t of dump.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const ne = [...t.shape].reverse(); // ggml order: [in, out]
    if (t.kind === 'ternary') {
      const codes = new Int8Array(bin.buffer, bin.byteOffset + t.offset, n);
      const data = type === 'I2_S' ? encodeI2S(codes, t.scale!) : encodeTQ2_0(codes, new Float32Array(n / 256).fill(t.scale!));
      tensors.push({ name: t.name, ne, type, data });
    } else {
      const f32 = new Float32Array(bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + 4 * n));
      if (t.name === 'token_embd.weight') {
        const f16 = new Uint16Array(n);
        for (let i = 0; i < n; i++) f16[i] = f32ToF16(f32[i]!);
        tensors.push({ name: t.name, ne, type: 'F16', data: new Uint8Array(f16.buffer) });
      } else tensors.push({ name: t.name, ne, type: 'F32', data: new Uint8Array(f32.buffer) });
    }
  }
  return { metadata, tensors };
}

async function main(): Promise<void> {
  const [prefix, tokPath, out, type = 'I2_S'] = process.argv.slice(2);
  if (!prefix || !tokPath || !out || (type !== 'I2_S' && type !== 'TQ2_0'))
    throw new Error('usage: export.ts <weights-prefix> <tokenizer.json> <out.gguf> [I2_S|TQ2_0]');
  const dump = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as Dump;
  const bin = new Uint8Array(await readFile(`${prefix}.bin`));
  const { metadata, tensors } = ggufContents(dump, bin, await readTokenizer(tokPath), type);
  await writeGgufFile(out, metadata, tensors);
  console.log(`${out}: ${type}, step ${dump.step}, ${tensors.length} tensors`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main();
