import { invalidArgument } from '../errors/index.js';
import type { HostTensor } from '../kernels/spec.js';
import { bf16ToF32, f16ToF32 } from '../quant/f16.js';

/** Little-endian F32 / F16 / BF16 bytes → f32 values (a copy, so the result is aligned and owned). */
export function floatBytesToF32(type: string, bytes: Uint8Array, n: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (type === 'F32') for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  else if (type === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  else if (type === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(2 * i, true));
  else throw invalidArgument('type', `${type} is not a float type`);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * F16 bytes as f16 bits. A buffer read for this tensor alone (a file read) becomes the result without a copy on a
 * little-endian host: the 2B4T matrix is 657 MB, and a copy would double the load's peak RSS until the next GC.
 */
export function f16Bytes(bytes: Uint8Array, n: number): Uint16Array {
  if (LITTLE_ENDIAN && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.byteLength === 2 * n)
    return new Uint16Array(bytes.buffer, 0, n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, true);
  return out;
}

/** A float tensor as a HostTensor: F16 stays f16 when `keepF16`, everything else becomes f32. */
export function floatHostTensor(type: string, bytes: Uint8Array, shape: number[], keepF16: boolean): HostTensor<'f16' | 'f32'> {
  const n = shape.reduce((a, b) => a * b, 1);
  if (type === 'F16' && keepF16) return { dtype: 'f16', shape, data: f16Bytes(bytes, n) };
  return { dtype: 'f32', shape, data: floatBytesToF32(type, bytes, n) };
}
