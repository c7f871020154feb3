/**
 * I2_S, bitnet.cpp's x86 layout (ggml type 36; model.md "I2_S", fixtures README §6).
 *
 * - 2 bits per weight (bpw 2.0 plus one 32-byte scale slot per tensor).
 * - The tensor is one row-major array (rows × cols, cols contiguous) cut into blocks of 128 weights = 32 bytes.
 *   Byte j of a block holds weight j in bits 7–6, weight 32+j in bits 5–4, weight 64+j in bits 3–2 and weight 96+j
 *   in bits 1–0 (most significant first). Codes: 0 → −1, 1 → 0, 2 → +1 (3 is unused and reads as 0).
 * - After the n/4 packed bytes: one little-endian f32 scale for the whole tensor, then 28 bytes of padding that
 *   bitnet.cpp does not zero (never checksum them). Tensor bytes = n/4 + 32.
 *
 * Worked byte: weights (w0, w32, w64, w96) = (+1, 0, −1, +1) → codes (2, 1, 0, 2) → 0b10_01_00_10 = 0x92.
 */
export const I2S_BLOCK_WEIGHTS = 128;
export const I2S_BLOCK_BYTES = 32;
export const I2S_SCALE_SLOT_BYTES = 32;

/** Bytes of an I2_S tensor of n weights as stored in a GGUF file. */
export function i2sBytes(n: number): number {
  return n / 4 + I2S_SCALE_SLOT_BYTES;
}

// 2-bit code → ternary value; code 3 is unused and decodes as 0, as bitnet.cpp's dequantize does.
const I2S_VALUE = Int8Array.of(-1, 0, 1, 0);

/** Decode n weights from packed bytes (the first n/4 bytes of the tensor) into int8 codes. */
export function decodeI2S(packed: Uint8Array, n: number, out = new Int8Array(n)): Int8Array {
  if (n % I2S_BLOCK_WEIGHTS !== 0) throw new RangeError(`I2_S needs a multiple of ${I2S_BLOCK_WEIGHTS} weights, got ${n}`);
  if (packed.length < n / 4) throw new RangeError(`I2_S: ${packed.length} bytes hold fewer than ${n} weights`);
  for (let b = 0; b < n; b += I2S_BLOCK_WEIGHTS) {
    const base = b / 4;
    for (let j = 0; j < 32; j++) {
      const byte = packed[base + j]!;
      out[b + j] = I2S_VALUE[byte >> 6]!;
      out[b + 32 + j] = I2S_VALUE[(byte >> 4) & 3]!;
      out[b + 64 + j] = I2S_VALUE[(byte >> 2) & 3]!;
      out[b + 96 + j] = I2S_VALUE[byte & 3]!;
    }
  }
  return out;
}

/** Pack int8 codes {−1,0,1} into I2_S bytes: n/4 packed bytes, the f32 scale, 28 zero bytes. */
export function encodeI2S(codes: Int8Array, scale: number): Uint8Array {
  const n = codes.length;
  if (n % I2S_BLOCK_WEIGHTS !== 0) throw new RangeError(`I2_S needs a multiple of ${I2S_BLOCK_WEIGHTS} weights, got ${n}`);
  const out = new Uint8Array(i2sBytes(n));
  for (let b = 0; b < n; b += I2S_BLOCK_WEIGHTS) {
    const base = b / 4;
    for (let j = 0; j < 32; j++) {
      out[base + j] = ((codes[b + j]! + 1) << 6) | ((codes[b + 32 + j]! + 1) << 4) |
        ((codes[b + 64 + j]! + 1) << 2) | (codes[b + 96 + j]! + 1);
    }
  }
  new DataView(out.buffer).setFloat32(n / 4, scale, true);
  return out;
}

/** The per-tensor f32 scale stored right after the packed bytes. */
export function i2sScale(tensorBytes: Uint8Array, n: number): number {
  return new DataView(tensorBytes.buffer, tensorBytes.byteOffset, tensorBytes.byteLength).getFloat32(n / 4, true);
}
