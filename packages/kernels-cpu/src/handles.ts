/**
 * The CPU backend's storage. Tensors are JS typed arrays owned by the backend; ternary matrices (T16,
 * native/common.h), converted output matrices and KV caches live in 64-byte aligned native memory.
 */
import { TrineError, type DType, type KvCacheSpec, type MatrixFormat } from '@trine/core';

export type Data = Float32Array | Uint16Array | Int32Array | Int8Array;

export interface CpuTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  data: Data;
}

export interface CpuTernary {
  readonly rows: number;
  readonly cols: number;
  readonly granularity: 'tensor' | 'block256';
  /** T16 bytes: roundup(rows, 16) × roundup(cols, 256) / 4. */
  packed: ArrayBuffer;
  scales: Float32Array;
}

export interface CpuMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly format: MatrixFormat;
  data: Float32Array | Uint16Array | Int8Array;
  /** Per-row scales of a q8 matrix (empty otherwise). */
  scales: Float32Array;
}

export interface CpuKvCache {
  readonly spec: KvCacheSpec;
  /** K for every (layer, slot, head, position), then V: [2][layers][slots][kvHeads][context][headDim]. */
  buffer: ArrayBuffer;
}

export interface CpuBatch {
  readonly n: number;
  readonly positions: Int32Array;
  readonly slots: Int32Array;
}

export interface CpuHandles {
  tensor: CpuTensor;
  ternary: CpuTernary;
  matrix: CpuMatrix;
  kv: CpuKvCache;
  batch: CpuBatch;
}

/** Elements per row: the product of the dimensions after the first (1 for rank ≤ 1). */
export function rowWidth(t: { shape: readonly number[] }): number {
  let w = 1;
  for (let i = 1; i < t.shape.length; i++) w *= t.shape[i]!;
  return w;
}

export function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function makeArray(dtype: DType, n: number): Data {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n);
    case 'f16':
      return new Uint16Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'i8':
      return new Int8Array(n);
    default:
      throw new TrineError('INVALID_ARGUMENT', `alloc: dtype is not a dtype: ${String(dtype)}`, { field: 'alloc.dtype' });
  }
}
