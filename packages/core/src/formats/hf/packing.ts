import { invalidModelFile } from '../../errors/index.js';
import { roundHalfEven } from '../../quant/f16.js';

/**
 * transformers `integrations/bitnet.py` packing: a ternary matrix W [out, in] is stored as uint8 [out/4, in].
 * Output row r = i·(out/4) + j lives in packed[j, col] bits 2i..2i+1 as code w + 1 (the least significant pair is
 * the first quarter of the rows). Worked byte: rows (j, j+out/4, j+out/2, j+3out/4) = (+1, 0, −1, +1) at one column
 * → codes (2, 1, 0, 2) → 2 | 1<<2 | 0<<4 | 2<<6 = 0x86.
 */
export function unpackHfTernary(packed: Uint8Array, rows: number, cols: number, name = 'weight', fileOffset = 0): Int8Array {
  const q = rows / 4;
  const out = new Int8Array(rows * cols);
  for (let j = 0; j < q; j++) {
    for (let c = 0; c < cols; c++) {
      const byte = packed[j * cols + c]!;
      for (let i = 0; i < 4; i++) {
        const code = (byte >> (2 * i)) & 3;
        if (code === 3) throw invalidModelFile(name, fileOffset + j * cols + c, 'packed code 3 is not a ternary value');
        out[(i * q + j) * cols + c] = code - 1;
      }
    }
  }
  return out;
}

export function packHfTernary(codes: Int8Array, rows: number, cols: number): Uint8Array {
  const q = rows / 4;
  const out = new Uint8Array(q * cols);
  for (let j = 0; j < q; j++) {
    for (let c = 0; c < cols; c++) {
      let byte = 0;
      for (let i = 0; i < 4; i++) byte |= (codes[(i * q + j) * cols + c]! + 1) << (2 * i);
      out[j * cols + c] = byte;
    }
  }
  return out;
}

/**
 * Transcode HF packed weights straight to I2_S packed bytes (n/4, no scale slot), without an int8 detour: both
 * store the code w + 1 in two bits, so each I2_S byte gathers four HF pairs of one row (cols % 128 == 0).
 * Returns the byte index (in `packed`) of a code 3, or the bytes.
 */
export function hfPackedToI2S(packed: Uint8Array, rows: number, cols: number, name = 'weight', fileOffset = 0): Uint8Array {
  const q = rows / 4;
  const out = new Uint8Array((rows * cols) / 4);
  let bad = 0;
  let o = 0;
  for (let r = 0; r < rows; r++) {
    const sh = 2 * Math.floor(r / q);
    const base = (r % q) * cols;
    for (let b = 0; b < cols; b += 128) {
      const p = base + b;
      for (let k = 0; k < 32; k++) {
        const c0 = (packed[p + k]! >> sh) & 3;
        const c1 = (packed[p + k + 32]! >> sh) & 3;
        const c2 = (packed[p + k + 64]! >> sh) & 3;
        const c3 = (packed[p + k + 96]! >> sh) & 3;
        bad |= (c0 & (c0 >> 1)) | (c1 & (c1 >> 1)) | (c2 & (c2 >> 1)) | (c3 & (c3 >> 1));
        out[o++] = (c0 << 6) | (c1 << 4) | (c2 << 2) | c3;
      }
    }
  }
  // Rare path: find where the invalid code is, for the error message.
  if (bad) unpackHfTernary(packed, rows, cols, name, fileOffset);
  return out;
}

/**
 * BitNet b1.58's absmean weight quantization, which transformers applies on the fly to the float master weights of a
 * -bf16 checkpoint: scale = mean|W| (at least 1e-5), code = clamp(round(W / scale), −1, 1), weight ≈ code · scale.
 * Computed in f32/f64 here (transformers computes in the weight's dtype; the codes agree except on exact ties).
 */
export function absmeanTernary(w: Float32Array): { codes: Int8Array; scale: number } {
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += Math.abs(w[i]!);
  const scale = Math.fround(Math.max(sum / w.length, 1e-5));
  const codes = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) codes[i] = Math.max(-1, Math.min(1, roundHalfEven(w[i]! / scale)));
  return { codes, scale };
}
