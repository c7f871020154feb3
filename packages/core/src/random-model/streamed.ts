/**
 * Random weights fast enough for multi-GB models (bench shapes, gpu-check), streamed in chunks of a few MB.
 *
 * Random bytes come from AES-128-CTR (hardware AES, GB/s, seeded per tensor so files are reproducible); each pair of
 * random bytes maps through a 64 Ki-entry table straight to one packed byte of four 2-bit codes in {0, 1, 2}
 * (65536 mod 81 = 7: the bias toward 7 of the 81 code quadruples is 1 in 9000). Any such byte is a valid I2_S byte
 * and a valid TQ2_0 `qs` byte, since the codes are independent and identically distributed. Node only (node:crypto).
 */
import { f32ToF16 } from '../quant/f16.js';
import { invalidArgument } from '../errors/index.js';
import type { RandomWeightBytes } from './build.js';

type Crypto = typeof import('node:crypto');

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
  constructor(crypto: Crypto, seed: string) {
    const key = crypto.createHash('sha256').update(seed).digest();
    this.cipher = crypto.createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
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

/** Streamed weights for F16 embeddings, F32 norms and I2_S or TQ2_0 projections; tensor t is seeded by `seed/t.name`. */
export async function streamedWeights(seed: string): Promise<RandomWeightBytes> {
  const crypto = await import('node:crypto');
  return {
    bytes(t) {
      const rng = new RandomBytes(crypto, `${seed}/${t.name}`);
      const n = t.ne.reduce((a, b) => a * b, 1);
      if (t.role === 'embedding' && t.type === 'F16') return embeddingChunks(rng, n);
      if (t.role === 'norm') return normChunks(rng, n);
      if (t.type === 'I2_S') return i2sChunks(rng, n);
      if (t.type === 'TQ2_0') return tq2Chunks(rng, n);
      throw invalidArgument(`tensors.${t.name}.type`, `streamed weights write F16 embeddings, F32 norms and I2_S or TQ2_0 projections, not ${t.type} ${t.role}`);
    },
  };
}

/** Packed random ternary codes for a rows × cols I2_S matrix (rows·cols/4 bytes; the scale travels separately). */
export async function randomI2sMatrix(rows: number, cols: number, seed: string): Promise<Uint8Array> {
  return codeBytes(new RandomBytes(await import('node:crypto'), seed), (rows * cols) / 4);
}

/** Random f16 bits with the streamed embedding's spread (an LM-head matrix for kernel timing). */
export async function randomF16Matrix(count: number, seed: string): Promise<Uint16Array> {
  const out = new Uint16Array(count);
  let at = 0;
  for (const c of embeddingChunks(new RandomBytes(await import('node:crypto'), seed), count)) {
    out.set(new Uint16Array(c.buffer, c.byteOffset, c.byteLength / 2), at);
    at += c.byteLength / 2;
  }
  return out;
}
