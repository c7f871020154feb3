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
