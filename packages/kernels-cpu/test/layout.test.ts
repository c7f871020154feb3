import { encodeTernary, type TernaryFormat } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../src/index.js';

// The T16 layout (native/common.h) pinned: bytes per tile, the worked byte, and a round trip from every file
// format through the repacker and back, on shapes that need row and column padding.
const addon = loadNative();
const FORMAT = { codes: 0, i2_s: 1, tq2_0: 2, tq1_0: 3 } as const;

function randomCodes(n: number, seed: number): Int8Array {
  const c = new Int8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    c[i] = (s >>> 24) % 3 - 1;
  }
  return c;
}

describe('T16 layout', () => {
  it('states 16 x 16 weights in 64 bytes (2 bits per weight)', () => {
    const h = addon.hostInfo();
    expect([h.tileRows, h.tileCols, h.tileBytes]).toEqual([16, 16, 64]);
    expect((h.tileRows * h.tileCols * 2) / 8).toBe(h.tileBytes);
  });

  it('packs the worked byte: weights (r0,k0),(r0,k0+4),(r0,k0+8),(r0,k0+12) = (+1, 0, -1, +1) -> 0x86', () => {
    const codes = new Int8Array(16 * 256);
    codes[0] = 1;
    codes[4] = 0;
    codes[8] = -1;
    codes[12] = 1;
    const packed = new Uint8Array(addon.repackTernary(FORMAT.codes, codes, 16, 256));
    expect(packed.length).toBe((16 * 256) / 4);
    expect(packed[0]).toBe(0x86);
    // Every other weight is 0 (code 1 in each 2-bit field = 0b01010101).
    expect(packed[1]).toBe(0x55);
    expect(packed[4]).toBe(0x55);
  });

  it('pads rows to 16 and columns to 256', () => {
    expect(addon.repackTernary(FORMAT.codes, new Int8Array(17 * 300), 17, 300).byteLength).toBe((32 * 512) / 4);
  });

  const cases: [TernaryFormat, number, number][] = [
    ['codes', 37, 384],
    ['i2_s', 37, 384],
    ['i2_s', 640, 2560],
    ['tq2_0', 21, 512],
    ['tq1_0', 21, 512],
  ];
  for (const [format, rows, cols] of cases) {
    it(`round-trips ${format} ${rows}x${cols} through repack and unpack`, () => {
      const codes = randomCodes(rows * cols, rows * 31 + cols);
      const scales = format === 'i2_s' || format === 'codes' ? Float32Array.of(0.5) : new Float32Array((rows * cols) / 256).fill(0.25);
      const t = encodeTernary(codes, rows, cols, format, scales);
      const packed = addon.repackTernary(FORMAT[format], t.data, rows, cols);
      const row = new Int8Array(cols);
      const wrong: string[] = [];
      for (let r = 0; r < rows; r++) {
        addon.unpackTernaryRow(packed, rows, cols, r, row);
        for (let c = 0; c < cols; c++)
          if (row[c] !== codes[r * cols + c] && wrong.length < 5) wrong.push(`(${r}, ${c}): ${row[c]} != ${codes[r * cols + c]}`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it('rejects codes outside {-1, 0, 1} and data shorter than the shape needs', () => {
    expect(() => addon.repackTernary(FORMAT.codes, Int8Array.of(2, 0, 0, 0), 1, 4)).toThrow(/not in/);
    expect(() => addon.repackTernary(FORMAT.i2_s, new Uint8Array(10), 4, 128)).toThrow(/needs 128/);
    expect(() => addon.repackTernary(FORMAT.tq2_0, new Uint8Array(66), 1, 300)).toThrow(/256/);
  });
});
