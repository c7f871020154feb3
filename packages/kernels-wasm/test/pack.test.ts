import { decodeTernaryCodes, encodeTernary } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { packTernaryLut16, packTernaryRows } from '../src/index.js';

/** The inverse of the w2x64 layout, written from its description (assembly/ternary.ts). */
function unpack(packed: Uint8Array, rows: number, cols: number, Kp: number): Int8Array {
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) {
      const b = k >> 6;
      const j = (k & 63) >> 4;
      const m = k & 15;
      const byte = packed[r * (Kp / 4) + b * 16 + m]!;
      out[r * cols + k] = ((byte >> (2 * j)) & 3) - 1;
    }
  return out;
}

describe('w2x64 packing', () => {
  it('packs the worked byte: columns (0,16,32,48) = (+1,0,−1,+1) → 0x86', () => {
    const c = new Int8Array(64);
    c[0] = 1;
    c[16] = 0;
    c[32] = -1;
    c[48] = 1;
    const dst = new Uint8Array(16);
    packTernaryRows(c, 1, 64, 64, dst);
    expect(dst[0]).toBe(0x86);
    expect(dst[1]).toBe(0b01_01_01_01); // all-zero weights are code 1
  });

  it('round-trips every source format, padding rows that are not a multiple of 64 with zeros', () => {
    for (const [fmt, cols] of [['i2_s', 384], ['tq2_0', 512], ['tq1_0', 256], ['codes', 100]] as const) {
      const rows = 3;
      const codes = new Int8Array(rows * cols).map((_, i) => ((i * 7919) % 3) - 1);
      const scales = fmt === 'tq1_0' || fmt === 'tq2_0' ? new Float32Array((rows * cols) / 256).fill(0.5) : Float32Array.of(0.5);
      const t = encodeTernary(codes, rows, cols, fmt, scales);
      const Kp = Math.ceil(cols / 64) * 64;
      const dst = new Uint8Array((rows * Kp) / 4);
      packTernaryRows(decodeTernaryCodes(t), rows, cols, Kp, dst);
      expect(Array.from(unpack(dst, rows, cols, Kp))).toEqual(Array.from(codes));
      if (Kp > cols) expect(dst[dst.length - 1]! & 0xc0).toBe(0x40); // padding column 63 of the last block: code 1
    }
  });

  it('lut16: packs the worked byte (+1, −1, 0, +1) → indices 6, 5 → 0x56, and round-trips with padded rows', () => {
    const c = Int8Array.of(1, -1, 0, 1, ...new Array(60).fill(0));
    const dst = new Uint8Array(16 * 16);
    packTernaryLut16(c, 1, 64, 64, dst);
    expect(dst[0]).toBe(0x56);
    expect(dst[1]).toBe(0x44); // padding row 1: weights 0 → index 4 in both nibbles

    const rows = 19;
    const cols = 100;
    const Kp = 128;
    const codes = new Int8Array(rows * cols).map((_, i) => ((i * 7919) % 3) - 1);
    const packed = new Uint8Array((32 * Kp) / 4);
    packTernaryLut16(codes, rows, cols, Kp, packed);
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < cols; k++) {
        const byte = packed[Math.floor(r / 16) * Kp * 4 + Math.floor(k / 4) * 16 + (r % 16)]!;
        const idx = (k & 2) === 0 ? byte & 15 : byte >> 4;
        const w = (k & 1) === 0 ? Math.floor(idx / 3) - 1 : (idx % 3) - 1;
        expect(w).toBe(codes[r * cols + k]);
      }
  });
});
