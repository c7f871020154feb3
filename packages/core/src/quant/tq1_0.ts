import { f16ToF32, f32ToF16 } from './f16.js';

/**
 * TQ1_0, llama.cpp (ggml type 34; ggml-common.h `block_tq1_0`, ggml-quants.c `quantize_row_tq1_0_ref` /
 * `dequantize_row_tq1_0`).
 *
 * - Blocks of 256 weights along a row, 54 bytes each: qs[48] (5 trits per byte), qh[4] (4 trits per byte), then an
 *   f16 scale d. Bits per weight: 54·8/256 = 1.6875.
 * - Trit t = w + 1. Which elements a byte holds, most significant trit first:
 *     qs[m],    m < 32:  m, 32+m, 64+m, 96+m, 128+m
 *     qs[32+m], m < 16:  160+m, 176+m, 192+m, 208+m, 224+m
 *     qh[j],    j < 4:   240+j, 244+j, 248+j, 252+j (then ×3 so the four trits fill the top trit positions)
 * - A byte stores the base-3 number q = t0·81 + t1·27 + t2·9 + t3·3 + t4 as ceil(q·256/243) (fixed point).
 *   Trit k back: ((u8)(byte · 3^k) · 3) >> 8.
 *
 * Worked byte: trits of (w0, w32, w64, w96, w128) = (+1, 0, −1, +1, 0) → (2, 1, 0, 2, 1) → q = 162+27+0+6+1 = 196
 * → ceil(196·256/243) = ceil(206.49) = 207 = 0xCF. Trit 0: (207·3) >> 8 = 2 ✓; trit 1: (u8)(207·3) = 109, 109·3 >> 8 = 1 ✓.
 */
export const TQ1_0_BLOCK_WEIGHTS = 256;
export const TQ1_0_BLOCK_BYTES = 54;
const QS = 48;
const QH = 4;
const POW3 = [1, 3, 9, 27, 81];

export function tq1_0Bytes(n: number): number {
  return (n / TQ1_0_BLOCK_WEIGHTS) * TQ1_0_BLOCK_BYTES;
}

function trit(byte: number, k: number): number {
  return ((((byte * POW3[k]!) & 0xff) * 3) >> 8) - 1;
}

export function decodeTQ1_0(data: Uint8Array, n: number, out = new Int8Array(n), scales?: Float32Array): Int8Array {
  if (n % TQ1_0_BLOCK_WEIGHTS !== 0) throw new RangeError(`TQ1_0 needs a multiple of 256 weights, got ${n}`);
  if (data.length < tq1_0Bytes(n)) throw new RangeError(`TQ1_0: ${data.length} bytes hold fewer than ${n} weights`);
  for (let blk = 0; blk < n / TQ1_0_BLOCK_WEIGHTS; blk++) {
    const p = blk * TQ1_0_BLOCK_BYTES;
    const o = blk * TQ1_0_BLOCK_WEIGHTS;
    for (let k = 0; k < 5; k++) {
      for (let m = 0; m < 32; m++) out[o + 32 * k + m] = trit(data[p + m]!, k);
      for (let m = 0; m < 16; m++) out[o + 160 + 16 * k + m] = trit(data[p + 32 + m]!, k);
    }
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < QH; j++) out[o + 240 + 4 * k + j] = trit(data[p + QS + j]!, k);
    }
    if (scales) scales[blk] = f16ToF32(data[p + QS + QH]! | (data[p + QS + QH + 1]! << 8));
  }
  return out;
}

function packTrits(trits: number[]): number {
  let q = 0;
  for (const t of trits) q = q * 3 + t;
  return Math.floor((q * 256 + 242) / 243); // ceil(q·256/243)
}

export function encodeTQ1_0(codes: Int8Array, scales: Float32Array): Uint8Array {
  const n = codes.length;
  if (n % TQ1_0_BLOCK_WEIGHTS !== 0) throw new RangeError(`TQ1_0 needs a multiple of 256 weights, got ${n}`);
  const out = new Uint8Array(tq1_0Bytes(n));
  const t = (i: number) => codes[i]! + 1;
  for (let blk = 0; blk < n / TQ1_0_BLOCK_WEIGHTS; blk++) {
    const p = blk * TQ1_0_BLOCK_BYTES;
    const o = blk * TQ1_0_BLOCK_WEIGHTS;
    for (let m = 0; m < 32; m++) out[p + m] = packTrits([0, 1, 2, 3, 4].map((k) => t(o + 32 * k + m)));
    for (let m = 0; m < 16; m++) out[p + 32 + m] = packTrits([0, 1, 2, 3, 4].map((k) => t(o + 160 + 16 * k + m)));
    // qh: four trits, then ×3 so they sit in the top four positions (a trailing 0 trit).
    for (let j = 0; j < QH; j++) out[p + QS + j] = packTrits([0, 1, 2, 3].map((k) => t(o + 240 + 4 * k + j)).concat(0));
    const d = f32ToF16(scales[blk]!);
    out[p + QS + QH] = d & 0xff;
    out[p + QS + QH + 1] = d >> 8;
  }
  return out;
}
