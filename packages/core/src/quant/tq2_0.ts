import { f16ToF32, f32ToF16 } from './f16.js';

/**
 * TQ2_0, llama.cpp (ggml type 35; ggml-common.h `block_tq2_0`).
 *
 * - Blocks of 256 weights along a row, 66 bytes each: qs[64] of 2-bit codes (w + 1), then an f16 scale d.
 *   Bits per weight: 66·8/256 = 2.0625.
 * - Element e of a block: half h = e >> 7, r = e & 127; it lives in byte 32·h + (r & 31) at bit shift 2·(r >> 5),
 *   least significant pair first (the opposite bit order from I2_S).
 *
 * Worked byte: elements (0, 32, 64, 96) = (+1, 0, −1, +1) → codes (2, 1, 0, 2) → 2 | 1<<2 | 0<<4 | 2<<6 = 0x86.
 */
export const TQ2_0_BLOCK_WEIGHTS = 256;
export const TQ2_0_BLOCK_BYTES = 66;
const QS = 64;

export function tq2_0Bytes(n: number): number {
  return (n / TQ2_0_BLOCK_WEIGHTS) * TQ2_0_BLOCK_BYTES;
}

/** Decode codes, and the f32 value of each block's d into `scales` (one per block, in block order). */
export function decodeTQ2_0(data: Uint8Array, n: number, out = new Int8Array(n), scales?: Float32Array): Int8Array {
  if (n % TQ2_0_BLOCK_WEIGHTS !== 0) throw new RangeError(`TQ2_0 needs a multiple of 256 weights, got ${n}`);
  if (data.length < tq2_0Bytes(n)) throw new RangeError(`TQ2_0: ${data.length} bytes hold fewer than ${n} weights`);
  for (let blk = 0; blk < n / TQ2_0_BLOCK_WEIGHTS; blk++) {
    const p = blk * TQ2_0_BLOCK_BYTES;
    const o = blk * TQ2_0_BLOCK_WEIGHTS;
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) {
        const byte = data[p + 32 * h + m]!;
        for (let s = 0; s < 4; s++) out[o + 128 * h + 32 * s + m] = ((byte >> (2 * s)) & 3) - 1;
      }
    }
    if (scales) scales[blk] = f16ToF32(data[p + QS]! | (data[p + QS + 1]! << 8));
  }
  return out;
}

/** Pack codes with one scale per 256-block (rounded to f16, as ggml stores d). */
export function encodeTQ2_0(codes: Int8Array, scales: Float32Array): Uint8Array {
  const n = codes.length;
  if (n % TQ2_0_BLOCK_WEIGHTS !== 0) throw new RangeError(`TQ2_0 needs a multiple of 256 weights, got ${n}`);
  const out = new Uint8Array(tq2_0Bytes(n));
  for (let blk = 0; blk < n / TQ2_0_BLOCK_WEIGHTS; blk++) {
    const p = blk * TQ2_0_BLOCK_BYTES;
    const o = blk * TQ2_0_BLOCK_WEIGHTS;
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) {
        let byte = 0;
        for (let s = 0; s < 4; s++) byte |= (codes[o + 128 * h + 32 * s + m]! + 1) << (2 * s);
        out[p + 32 * h + m] = byte;
      }
    }
    const d = f32ToF16(scales[blk]!);
    out[p + QS] = d & 0xff;
    out[p + QS + 1] = d >> 8;
  }
  return out;
}
