/**
 * Writes a bench model (random ternary weights at a shape from shapes.ts) with Trine's GGUF writer, streaming:
 * tensors are produced in chunks of a few MB, so a multi-GB file never sits in memory. Cached as
 * `<cache>/bench/<shape>-<format>-g<version>-<hash>.gguf` (temporary file renamed into place).
 *
 * Speed: random bytes come from AES-128-CTR (hardware AES, GB/s, seeded per tensor so files are reproducible);
 * each pair of random bytes maps through a 64 Ki-entry table straight to one packed byte of four 2-bit codes in
 * {0, 1, 2} (65536 mod 81 = 7: the bias toward 7 of the 81 code quadruples is 1 in 9000). Any such byte is a valid
 * I2_S byte and a valid TQ2_0 `qs` byte, since the codes are independent and identically distributed.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { f32ToF16, gv, tokenizerMetadata, writeGgufFileStreaming, type GgufWriteTensorInfo, type GgufValue } from '@trine/core';
import { benchTokenizer } from './tokenizer.js';
import { layerMatrices, type ModelShape, type WeightFormat } from './shapes.js';

/** Bump when the bytes this writes change, so cached files are rebuilt. */
export const GENERATOR_VERSION = 1;
const CHUNK = 8 << 20;

/** 16 random bits → one byte holding four ternary codes (0 → −1, 1 → 0, 2 → +1), most significant first. */
const CODE_BYTE = (() => {
  const t = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) {
    let v = i % 81;
    let b = 0;
    for (let j = 0; j < 4; j++) {
      b = (b << 2) | (v % 3);
      v = Math.floor(v / 3);
    }
    t[i] = b;
  }
  return t;
})();

/** 16 random bits → f16 bits of a value with a roughly normal spread (σ ≈ 0.15): the logistic quantile function. */
const EMBED_F16 = (() => {
  const t = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) {
    const p = (i + 0.5) / 65536;
    t[i] = f32ToF16(0.15 * 0.5513 * Math.log(p / (1 - p)));
  }
  return t;
})();

/** A deterministic stream of random bytes for one tensor. */
class RandomBytes {
  private readonly cipher;
  private zeros = new Uint8Array(0);
  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  }
  next(n: number): Uint8Array {
    if (this.zeros.length < n) this.zeros = new Uint8Array(n);
    const b = this.cipher.update(this.zeros.subarray(0, n));
    const u = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    // Small outputs may sit at an odd offset in Node's buffer pool; 16-bit views need an even one.
    return b.byteOffset % 2 === 0 ? u : u.slice();
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    const b = this.next(4);
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 4294967296;
  }
}

/** n bytes of packed random ternary codes. */
function codeBytes(rng: RandomBytes, n: number): Uint8Array {
  const raw = rng.next(2 * n);
  const r16 = new Uint16Array(raw.buffer, raw.byteOffset, n);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = CODE_BYTE[r16[i]!]!;
  return out;
}

function* i2sChunks(rng: RandomBytes, weights: number): Generator<Uint8Array> {
  for (let left = weights / 4; left > 0; left -= CHUNK) yield codeBytes(rng, Math.min(CHUNK, left));
  // The scale slot: one f32 for the tensor, then 28 bytes of padding.
  const slot = new Uint8Array(32);
  new DataView(slot.buffer).setFloat32(0, 0.08 + 0.12 * rng.uniform(), true);
  yield slot;
}

function* tq2Chunks(rng: RandomBytes, weights: number): Generator<Uint8Array> {
  const perChunk = Math.floor(CHUNK / 66);
  for (let left = weights / 256; left > 0; left -= perChunk) {
    const blocks = Math.min(perChunk, left);
    const qs = codeBytes(rng, blocks * 64);
    const out = new Uint8Array(blocks * 66);
    const view = new DataView(out.buffer);
    const scales = rng.next(blocks);
    for (let b = 0; b < blocks; b++) {
      out.set(qs.subarray(b * 64, b * 64 + 64), b * 66);
      // TQ2_0 stores codes least significant first; random codes look the same either way.
      view.setUint16(b * 66 + 64, f32ToF16(0.08 + (0.12 * scales[b]!) / 255), true);
    }
    yield out;
  }
}

function* embeddingChunks(rng: RandomBytes, count: number): Generator<Uint8Array> {
  for (let left = count; left > 0; left -= CHUNK / 2) {
    const n = Math.min(CHUNK / 2, left);
    const raw = rng.next(2 * n);
    const r16 = new Uint16Array(raw.buffer, raw.byteOffset, n);
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = EMBED_F16[r16[i]!]!;
    yield new Uint8Array(out.buffer);
  }
}

function* normChunks(rng: RandomBytes, n: number): Generator<Uint8Array> {
  const raw = rng.next(n);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.9 + (0.2 * raw[i]!) / 255;
  yield new Uint8Array(w.buffer);
}

const ARCH = 'bitnet-b1.58';

/** GGUF metadata and tensor list (bitnet.cpp's key names and tensor order) for a shape. */
export function benchModelLayout(shape: ModelShape, format: WeightFormat): { metadata: [string, GgufValue][]; tensors: GgufWriteTensorInfo[] } {
  const tokenizer = benchTokenizer(shape.vocab);
  const headDim = shape.hidden / shape.heads;
  const a = ARCH;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str(a)],
    ['general.name', gv.str(`trine-bench-${shape.name}-${format} (random weights)`)],
    ['general.description', gv.str(`Trine bench model: ${shape.description}, random ternary weights (output is gibberish).`)],
    [`${a}.vocab_size`, gv.u32(shape.vocab)],
    [`${a}.context_length`, gv.u32(shape.context)],
    [`${a}.embedding_length`, gv.u32(shape.hidden)],
    [`${a}.block_count`, gv.u32(shape.layers)],
    [`${a}.feed_forward_length`, gv.u32(shape.ffn)],
    [`${a}.rope.dimension_count`, gv.u32(headDim)],
    [`${a}.attention.head_count`, gv.u32(shape.heads)],
    [`${a}.attention.head_count_kv`, gv.u32(shape.kvHeads)],
    [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(1e-5)],
    [`${a}.rope.freq_base`, gv.f32(500000)],
    // LLAMA_FTYPE_MOSTLY_I2_S = 40, LLAMA_FTYPE_MOSTLY_TQ2_0 = 37
    ['general.file_type', gv.u32(format === 'i2_s' ? 40 : 37)],
    ...tokenizerMetadata(tokenizer),
  ];
  const type = format === 'i2_s' ? 'I2_S' : 'TQ2_0';
  const tensors: GgufWriteTensorInfo[] = [
    { name: 'token_embd.weight', ne: [shape.hidden, shape.vocab], type: 'F16' },
    { name: 'output_norm.weight', ne: [shape.hidden], type: 'F32' },
  ];
  const mats = new Map(layerMatrices(shape).map(([n, r, c]) => [n, [c, r]]));
  for (let l = 0; l < shape.layers; l++) {
    const b = `blk.${l}`;
    const t = (n: string) => ({ name: `${b}.${n}.weight`, ne: mats.get(n)!, type } as const);
    tensors.push(
      { name: `${b}.attn_norm.weight`, ne: [shape.hidden], type: 'F32' },
      t('attn_q'), t('attn_k'), t('attn_v'), t('attn_output'),
      { name: `${b}.attn_sub_norm.weight`, ne: [shape.hidden], type: 'F32' },
      { name: `${b}.ffn_norm.weight`, ne: [shape.hidden], type: 'F32' },
      t('ffn_gate'), t('ffn_up'), t('ffn_down'),
      { name: `${b}.ffn_sub_norm.weight`, ne: [shape.ffn], type: 'F32' },
    );
  }
  return { metadata, tensors };
}

function tensorChunks(t: GgufWriteTensorInfo, seed: string): Iterable<Uint8Array> {
  const rng = new RandomBytes(`${seed}/${t.name}`);
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (t.type === 'F16') return embeddingChunks(rng, n);
  if (t.type === 'F32') return normChunks(rng, n);
  if (t.type === 'I2_S') return i2sChunks(rng, n);
  return tq2Chunks(rng, n);
}

export function benchCacheDir(): string {
  const env = process.env.TRINE_CACHE_DIR;
  return join(env && env.length > 0 ? env : join(homedir(), '.cache', 'trine'), 'bench');
}

export function benchModelKey(shape: ModelShape, format: WeightFormat): string {
  const h = createHash('sha256').update(JSON.stringify({ v: GENERATOR_VERSION, shape, format })).digest('hex').slice(0, 12);
  return `${shape.name}-${format}-g${GENERATOR_VERSION}-${h}`;
}

/** Path of the bench model for a shape, generating it first when it is not cached. `built` says whether it was. */
export async function ensureBenchModel(
  shape: ModelShape,
  format: WeightFormat = 'i2_s',
  opts: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<{ path: string; built: boolean; seconds: number }> {
  const dir = opts.cacheDir ?? benchCacheDir();
  const key = benchModelKey(shape, format);
  const path = join(dir, `${key}.gguf`);
  try {
    if ((await stat(path)).size > 0) return { path, built: false, seconds: 0 };
  } catch {
    // Not cached yet.
  }
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  opts.log?.(`generating ${shape.name} (${format}) → ${path}`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const { metadata, tensors } = benchModelLayout(shape, format);
    await writeGgufFileStreaming(tmp, metadata, tensors, (t) => tensorChunks(t, key));
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { path, built: true, seconds: (performance.now() - t0) / 1000 };
}

/** Packed random ternary codes for a rows × cols I2_S matrix (rows·cols/4 bytes; the scale travels separately). */
export function randomI2sMatrix(rows: number, cols: number, seed: string): Uint8Array {
  return codeBytes(new RandomBytes(seed), (rows * cols) / 4);
}

/** Random f16 bits with the embedding's spread (an LM-head matrix for kernel timing). */
export function randomF16Matrix(count: number, seed: string): Uint16Array {
  const out = new Uint16Array(count);
  let at = 0;
  for (const c of embeddingChunks(new RandomBytes(seed), count)) {
    out.set(new Uint16Array(c.buffer, c.byteOffset, c.byteLength / 2), at);
    at += c.byteLength / 2;
  }
  return out;
}
