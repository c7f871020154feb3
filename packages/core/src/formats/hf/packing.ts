import { invalidModelFile } from '../../errors/index.js';

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
