/**
 * Repack row-major ternary codes {−1,0,+1} into the module's "w2x64" layout (assembly/ternary.ts pins it):
 * 2 bits per weight (code w+1), rows padded to Kp (a multiple of 64) with code 1 (weight 0), blocks of 64 weights
 * in 16 bytes; byte m of a block holds columns m, m+16, m+32, m+48 in bits 0–1, 2–3, 4–5, 6–7.
 * Worked byte: columns (0, 16, 32, 48) = (+1, 0, −1, +1) → codes (2, 1, 0, 2) → 0b10_00_01_10 = 0x86.
 */
export function packTernaryRows(codes: Int8Array, rows: number, cols: number, Kp: number, dst: Uint8Array): void {
  if (dst.length !== (rows * Kp) / 4) throw new Error(`packTernaryRows: destination holds ${dst.length} bytes`);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let b = 0; b < Kp; b += 64) {
      for (let m = 0; m < 16; m++) {
        let byte = 0;
        for (let j = 0; j < 4; j++) {
          const k = b + 16 * j + m;
          const code = k < cols ? codes[row + k]! + 1 : 1;
          byte |= code << (2 * j);
        }
        dst[o++] = byte;
      }
    }
  }
}

/**
 * Repack row-major codes into the "lut16" layout (assembly/ternary-lut.ts pins it): 16-row tiles (rows padded with
 * zero weights), per 4 columns 16 bytes, byte r = row r's pair indices 3·(w₀+1) + (w₁+1): pair 2p in bits 0–3,
 * pair 2p+1 in bits 4–7. Worked byte: columns (+1, −1, 0, +1) → indices 6 and 5 → 0x56. Padding is weight 0
 * (index 4). `dst` holds ceil(rows/16)·16 · Kp/4 bytes.
 */
export function packTernaryLut16(codes: Int8Array, rows: number, cols: number, Kp: number, dst: Uint8Array): void {
  const tiles = Math.ceil(rows / 16);
  if (dst.length !== (tiles * 16 * Kp) / 4) throw new Error(`packTernaryLut16: destination holds ${dst.length} bytes`);
  const w = (r: number, k: number): number => (r < rows && k < cols ? codes[r * cols + k]! : 0);
  let o = 0;
  for (let t = 0; t < tiles; t++) {
    for (let p = 0; p < Kp; p += 4) {
      for (let i = 0; i < 16; i++) {
        const r = t * 16 + i;
        const a = 3 * (w(r, p) + 1) + (w(r, p + 1) + 1);
        const b = 3 * (w(r, p + 2) + 1) + (w(r, p + 3) + 1);
        dst[o++] = a | (b << 4);
      }
    }
  }
}
