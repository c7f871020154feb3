import { invalidArgument, invalidModelFile } from '../errors/index.js';
import type { TernaryFormat, TernaryTensor } from '../kernels/spec.js';
import { f16ToF32 } from './f16.js';
import { decodeI2S, encodeI2S, i2sBytes, i2sScale } from './i2s.js';
import { decodeTQ1_0, encodeTQ1_0, tq1_0Bytes } from './tq1_0.js';
import { decodeTQ2_0, encodeTQ2_0, tq2_0Bytes } from './tq2_0.js';

/**
 * Ternary matrices between file formats and int8 codes. A TernaryTensor's `data` is:
 * - i2_s: the n/4 packed bytes (scale slot dropped; the scale is in `scales[0]`), see i2s.ts
 * - tq2_0 / tq1_0: the whole blocks (each block keeps its f16 d; `scales` holds them as f32), see tq2_0.ts / tq1_0.ts
 * - codes: one int8 per weight, row-major.
 */

/** Row-major int8 codes {−1, 0, +1} of a ternary tensor. */
export function decodeTernaryCodes(t: TernaryTensor, out = new Int8Array(t.rows * t.cols)): Int8Array {
  const n = t.rows * t.cols;
  switch (t.format) {
    case 'i2_s': return decodeI2S(t.data, n, out);
    case 'tq2_0': return decodeTQ2_0(t.data, n, out);
    case 'tq1_0': return decodeTQ1_0(t.data, n, out);
    case 'codes':
      out.set(new Int8Array(t.data.buffer, t.data.byteOffset, n));
      return out;
  }
}

function checkCodes(codes: Int8Array, rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows <= 0 || cols <= 0) {
    throw invalidArgument('shape', `bad shape ${rows} × ${cols}`);
  }
  if (codes.length !== rows * cols) throw invalidArgument('codes', `${codes.length} codes for ${rows} × ${cols}`);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c < -1 || c > 1) throw invalidArgument(`codes[${i}]`, `${c} is not −1, 0 or +1`);
  }
}

/**
 * Pack row-major codes into `format`. `scales`: one value for i2_s / codes, rows·cols/256 values (block order) for
 * tq1_0 / tq2_0 (stored as f16, so the returned tensor's scales are the f16-rounded values).
 */
export function encodeTernary(
  codes: Int8Array, rows: number, cols: number, format: TernaryFormat, scales: Float32Array, name = 'ternary',
): TernaryTensor {
  checkCodes(codes, rows, cols);
  const n = rows * cols;
  if (format === 'i2_s' || format === 'codes') {
    if (scales.length !== 1) throw invalidArgument('scales', `${format} takes one scale, got ${scales.length}`);
    if (format === 'i2_s' && cols % 128 !== 0) throw invalidArgument('cols', `I2_S needs cols % 128 == 0, got ${cols}`);
    const data = format === 'i2_s' ? encodeI2S(codes, scales[0]!).subarray(0, n / 4) : new Uint8Array(codes.slice().buffer);
    return { name, rows, cols, format, data, granularity: 'tensor', scales: Float32Array.of(scales[0]!) };
  }
  if (cols % 256 !== 0) throw invalidArgument('cols', `${format} needs cols % 256 == 0, got ${cols}`);
  if (scales.length !== n / 256) throw invalidArgument('scales', `${format} takes ${n / 256} block scales, got ${scales.length}`);
  const data = format === 'tq2_0' ? encodeTQ2_0(codes, scales) : encodeTQ1_0(codes, scales);
  const stored = new Float32Array(n / 256);
  if (format === 'tq2_0') decodeTQ2_0(data, n, undefined, stored);
  else decodeTQ1_0(data, n, undefined, stored);
  return { name, rows, cols, format, data, granularity: 'block256', scales: stored };
}

/** The bytes a ternary tensor occupies in a GGUF file (I2_S: packed + scale slot; TQ: the blocks). */
export function ternaryGgufBytes(t: TernaryTensor): Uint8Array {
  const n = t.rows * t.cols;
  switch (t.format) {
    case 'i2_s': {
      const out = new Uint8Array(i2sBytes(n));
      out.set(t.data.subarray(0, n / 4));
      new DataView(out.buffer).setFloat32(n / 4, t.scales[0]!, true);
      return out;
    }
    case 'tq2_0':
    case 'tq1_0':
      return t.data;
    case 'codes':
      throw invalidArgument('format', 'codes are not a GGUF tensor type; encode to i2_s, tq1_0 or tq2_0');
  }
}

/** GGUF bytes of a ternary tensor [rows, cols] → TernaryTensor with extracted scales (scales validated finite). */
export function ternaryFromGguf(
  name: string, type: 'I2_S' | 'TQ1_0' | 'TQ2_0', rows: number, cols: number, bytes: Uint8Array, fileOffset = 0,
): TernaryTensor {
  const n = rows * cols;
  if (type === 'I2_S') {
    if (bytes.length !== i2sBytes(n)) throw invalidModelFile(name, fileOffset, `I2_S tensor is ${bytes.length} bytes, expected ${i2sBytes(n)}`);
    const s = i2sScale(bytes, n);
    if (!Number.isFinite(s)) throw invalidModelFile(`${name}.scale`, fileOffset + n / 4, `scale ${s} is not finite`);
    return { name, rows, cols, format: 'i2_s', data: bytes.subarray(0, n / 4), granularity: 'tensor', scales: Float32Array.of(s) };
  }
  const want = type === 'TQ2_0' ? tq2_0Bytes(n) : tq1_0Bytes(n);
  if (bytes.length !== want) throw invalidModelFile(name, fileOffset, `${type} tensor is ${bytes.length} bytes, expected ${want}`);
  const scales = new Float32Array(n / 256);
  const blockBytes = type === 'TQ2_0' ? 66 : 54;
  for (let b = 0; b < scales.length; b++) {
    const at = b * blockBytes + blockBytes - 2;
    const s = f16ToF32(bytes[at]! | (bytes[at + 1]! << 8));
    if (!Number.isFinite(s)) throw invalidModelFile(`${name}.d[${b}]`, fileOffset + at, `block scale ${s} is not finite`);
    scales[b] = s;
  }
  return { name, rows, cols, format: type === 'TQ2_0' ? 'tq2_0' : 'tq1_0', data: bytes, granularity: 'block256', scales };
}
