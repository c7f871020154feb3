import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { openGguf } from '../formats/gguf/reader.js';
import { FIXTURE_NAMES, fixturePath, haveFixtures, readReference } from '../formats/test-support/fixtures.js';
import type { TernaryFormat } from '../kernels/spec.js';
import { f32ToF16, roundF16 } from './f16.js';
import { I2S_BLOCK_BYTES, I2S_BLOCK_WEIGHTS, decodeI2S, encodeI2S, i2sBytes } from './i2s.js';
import { decodeTernaryCodes, encodeTernary, ternaryFromGguf, ternaryGgufBytes } from './ternary.js';
import { TQ1_0_BLOCK_BYTES, TQ1_0_BLOCK_WEIGHTS, decodeTQ1_0, encodeTQ1_0 } from './tq1_0.js';
import { TQ2_0_BLOCK_BYTES, TQ2_0_BLOCK_WEIGHTS, decodeTQ2_0, encodeTQ2_0 } from './tq2_0.js';

/** Deterministic pseudo-random codes (xorshift), so failures reproduce. */
function randomCodes(n: number, seed = 1): Int8Array {
  let x = seed >>> 0 || 1;
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x % 3) - 1;
  }
  return out;
}

describe('ternary layouts: sizes and worked bytes', () => {
  it('pins bytes per block and bits per weight', () => {
    expect([I2S_BLOCK_WEIGHTS, I2S_BLOCK_BYTES, (I2S_BLOCK_BYTES * 8) / I2S_BLOCK_WEIGHTS]).toEqual([128, 32, 2]);
    expect([TQ2_0_BLOCK_WEIGHTS, TQ2_0_BLOCK_BYTES, (TQ2_0_BLOCK_BYTES * 8) / TQ2_0_BLOCK_WEIGHTS]).toEqual([256, 66, 2.0625]);
    expect([TQ1_0_BLOCK_WEIGHTS, TQ1_0_BLOCK_BYTES, (TQ1_0_BLOCK_BYTES * 8) / TQ1_0_BLOCK_WEIGHTS]).toEqual([256, 54, 1.6875]);
    expect(i2sBytes(256 * 256)).toBe(16416);
    expect(encodeTQ2_0(new Int8Array(512), new Float32Array(2)).length).toBe(132);
    expect(encodeTQ1_0(new Int8Array(512), new Float32Array(2)).length).toBe(108);
  });

  it('I2_S: (w0, w32, w64, w96) = (+1, 0, −1, +1) packs to byte 0x92', () => {
    const codes = new Int8Array(128);
    [codes[0], codes[32], codes[64], codes[96]] = [1, 0, -1, 1];
    const bytes = encodeI2S(codes, 0.5);
    expect(bytes[0]).toBe(0x92);
    expect(new DataView(bytes.buffer).getFloat32(32, true)).toBe(0.5);
    expect(Array.from(decodeI2S(bytes, 128)).filter((_, i) => i % 32 === 0)).toEqual([1, 0, -1, 1]);
  });

  it('TQ2_0: elements (0, 32, 64, 96) = (+1, 0, −1, +1) pack to byte 0x86, d at bytes 64–65', () => {
    const codes = new Int8Array(256);
    [codes[0], codes[32], codes[64], codes[96]] = [1, 0, -1, 1];
    const bytes = encodeTQ2_0(codes, Float32Array.of(0.15966796875));
    expect(bytes[0]).toBe(0x86);
    expect(bytes[64]! | (bytes[65]! << 8)).toBe(0x311c);
  });

  it('TQ1_0: trits (2, 1, 0, 2, 1) pack to ceil(196·256/243) = 207 = 0xCF', () => {
    const codes = new Int8Array(256);
    [codes[0], codes[32], codes[64], codes[96], codes[128]] = [1, 0, -1, 1, 0];
    const bytes = encodeTQ1_0(codes, Float32Array.of(1));
    expect(bytes[0]).toBe(0xcf);
    const back = decodeTQ1_0(bytes, 256);
    expect([back[0], back[32], back[64], back[96], back[128]]).toEqual([1, 0, -1, 1, 0]);
  });

  it('TQ2_0 puts element e in byte 32·(e>>7) + (e&31) at shift 2·((e&127)>>5)', () => {
    for (const e of [0, 31, 32, 100, 127, 128, 200, 255]) {
      const codes = new Int8Array(256).fill(-1);
      codes[e] = 1;
      const bytes = encodeTQ2_0(codes, Float32Array.of(1));
      const byte = 32 * (e >> 7) + (e & 31);
      expect((bytes[byte]! >> (2 * ((e & 127) >> 5))) & 3, `e=${e}`).toBe(2);
      expect(bytes.subarray(0, 64).filter((b) => b !== 0).length).toBe(1);
    }
  });
});

describe('ternary round trips', () => {
  const shapes: [number, number][] = [[4, 256], [3, 512], [1, 768]];
  for (const format of ['i2_s', 'tq2_0', 'tq1_0', 'codes'] as TernaryFormat[]) {
    for (const [rows, cols] of shapes) {
      it(`${format} ${rows}×${cols}: encode → decode gives the same codes and scales`, () => {
        const codes = randomCodes(rows * cols, rows * 7 + cols);
        const blocks = (rows * cols) / 256;
        const scales = format === 'tq1_0' || format === 'tq2_0'
          ? Float32Array.from({ length: blocks }, (_, i) => 0.01 * (i + 1))
          : Float32Array.of(0.125);
        const t = encodeTernary(codes, rows, cols, format, scales);
        expect(decodeTernaryCodes(t)).toEqual(codes);
        if (format === 'tq1_0' || format === 'tq2_0') {
          // scales come back as their f16 roundings (0.01·k is not exact in f16, so this is not a no-op)
          expect(Array.from(t.scales)).toEqual(Array.from(scales, roundF16));
          expect(t.scales[0]).not.toBe(scales[0]);
          expect(t.granularity).toBe('block256');
        }
        if (format !== 'codes') {
          const file = ternaryGgufBytes(t);
          const type = format === 'i2_s' ? 'I2_S' : format === 'tq2_0' ? 'TQ2_0' : 'TQ1_0';
          const back = ternaryFromGguf('w', type, rows, cols, file);
          expect(decodeTernaryCodes(back)).toEqual(codes);
          expect(back.scales).toEqual(t.scales);
        }
      });
    }
  }

  it('rejects codes outside {−1, 0, 1} and mismatched scale counts', () => {
    const bad = new Int8Array(256);
    bad[7] = 2;
    expect(() => encodeTernary(bad, 1, 256, 'i2_s', Float32Array.of(1))).toThrow(TrineError);
    expect(() => encodeTernary(new Int8Array(512), 2, 256, 'tq2_0', Float32Array.of(1))).toThrow(/2 block scales/);
  });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!haveFixtures())('ternary tensors of the shared fixtures', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: counts, codes SHA-256, first codes and scale bits match the reference`, async () => {
      const ref = readReference(name);
      const g = await openGguf(fixturePath(name));
      expect(ref.ternary_tensors.length).toBe(14);
      for (const r of ref.ternary_tensors) {
        const info = g.tensor(r.name)!;
        const t = ternaryFromGguf(r.name, info.type as 'I2_S', info.ne[1]!, info.ne[0]!, await g.readTensor(info), info.fileOffset);
        const codes = decodeTernaryCodes(t);
        const counts = [0, 0, 0];
        for (const c of codes) counts[c + 1]!++;
        expect(counts, r.name).toEqual(r.count_minus1_0_plus1);
        expect(sha(new Uint8Array(codes.buffer)), r.name).toBe(r.ternary_codes_sha256);
        expect(Array.from(codes.subarray(0, 16))).toEqual(r.first_16_codes);
        const bits = new Uint32Array(new Float32Array(t.scales.subarray(0, 1)).buffer)[0]!;
        if (r.scale_float32_bits) expect('0x' + bits.toString(16), r.name).toBe(r.scale_float32_bits);
        if (r.scale_float16_bits) {
          expect('0x' + f32ToF16(t.scales[0]!).toString(16).padStart(4, '0'), r.name).toBe(r.scale_float16_bits);
          expect(t.scales.every((s) => s === r.scale), r.name).toBe(true);
        }
        // Re-encoding the decoded codes reproduces the engine's bytes exactly (I2_S: the packed part).
        const again = encodeTernary(codes, t.rows, t.cols, t.format, t.scales);
        expect(again.data, r.name).toEqual(t.data);
      }
      await g.close();
    });
  }
});
