import { encodeTernary, f16ToF32, f32ToF16, type ScaleGranularity, type TernaryFormat, type TernaryTensor } from '@trine/core';
import type { Prng } from './prng.js';

/** Uniform codes in {-1, 0, 1}, row-major [rows, cols]. */
export function randomCodes(rng: Prng, rows: number, cols: number): Int8Array {
  const out = new Int8Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(-1, 1);
  return out;
}

/** Scales as a file gives them: f16-representable, positive, about the size real models have. */
export function randomScales(rng: Prng, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = f16ToF32(f32ToF16(rng.uniform(0.5, 3)));
  return out;
}

/**
 * A TernaryTensor [rows, cols] in `format`, packed by core's quant encoders, so each backend's repacking from file
 * bytes is under test. 'i2_s' has one scale per tensor, 'tq2_0' / 'tq1_0' one per 256 weights; 'codes' takes the
 * granularity asked for (HF checkpoints arrive as codes).
 */
export function ternaryTensor(
  rng: Prng,
  name: string,
  codes: Int8Array,
  rows: number,
  cols: number,
  format: TernaryFormat,
  granularity: ScaleGranularity = format === 'i2_s' || format === 'codes' ? 'tensor' : 'block256',
): TernaryTensor {
  const scales = randomScales(rng, granularity === 'tensor' ? 1 : (rows * cols) / 256);
  if (format === 'codes' && granularity === 'block256') {
    // core's encoder gives codes one tensor scale; block scales on codes are a valid TernaryTensor all the same.
    return { name, rows, cols, format, data: new Uint8Array(codes.slice().buffer), granularity, scales };
  }
  return encodeTernary(codes, rows, cols, format, scales, name);
}
