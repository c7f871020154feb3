/**
 * Device-resident storage. Layouts (pinned here, converted by upload / read):
 * - f32, i32 tensors: 4 bytes per element, row-major, as on the host.
 * - i8 tensors of rank ≥ 2: rows padded to a multiple of 16 elements with zeros, 4 per u32 little-endian (byte
 *   k%4 of word k/4), so a row of activations is a whole number of ternary weight words (16 weights each).
 * - f16 tensors of rank ≥ 2: rows padded to an even count, 2 halves per u32.
 * - Ternary matrices: 2 bits per weight, e = w + 2 ∈ {1, 2, 3}, 16 weights per u32, rows padded to 16 weights with
 *   e = 2 (zero). Weight 4j + i of a word sits at bits [8i + 2j, 8i + 2j + 1], so `(word >> 2j) & 0x03030303`
 *   puts weights 4j..4j+3 in the four bytes (see ternary4 in wgsl/common.wgsl). Worked example: weights
 *   (+1, 0, −1, 0, …) → e = (3, 2, 1, 2, …): weight 0 at bits 0–1 = 3, weight 1 at bits 8–9 = 2, weight 2 at
 *   bits 16–17 = 1, weight 3 at bits 24–25 = 2. N·Kp/4 bytes (0.25 bytes per weight).
 * - Matrices (embedding / LM head) in row chunks that each fit one storage binding: f32, f16 pairs, or q8 (4 int8
 *   per u32, rows padded to 4, plus one f32 scale per row).
 * - KV cache: per layer one K and one V buffer [slots, context, Hkv·Dh], f32 or f16 pairs.
 */
import type { DType, KvCacheSpec, MatrixFormat, ScaleGranularity, TensorDesc } from '@trine/core';

export function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Bit offset of weight kk (0..15) of a packed ternary word: 8·(kk mod 4) + 2·⌊kk / 4⌋ (the layout above). */
const FIELD_SHIFT = Int32Array.from({ length: 16 }, (_, kk) => 8 * (kk & 3) + 2 * (kk >> 2));

/** Ternary codes (int8 in {-1, 0, 1}, row-major [rows, cols]) in the 2-bit word layout above. */
export function packTernaryWords(codes: Int8Array, rows: number, cols: number): Uint32Array {
  const words = roundUp(cols, 16) / 16;
  const packed = new Uint32Array(rows * words);
  for (let n = 0; n < rows; n++) {
    const src = n * cols;
    for (let w = 0; w < words; w++) {
      let v = 0;
      const k0 = w * 16;
      for (let kk = 0; kk < 16; kk++) {
        const k = k0 + kk;
        const e = k < cols ? codes[src + k]! + 2 : 2; // padding: e = 2, weight 0
        v |= e << FIELD_SHIFT[kk]!;
      }
      packed[n * words + w] = v >>> 0;
    }
  }
  return packed;
}

export class GpuTensor implements TensorDesc {
  /** Elements per row on the host (product of the dimensions after the first; 1 for rank 1). */
  readonly rowSize: number;
  /** Elements per row on the device (padded for i8 and f16 of rank ≥ 2). */
  readonly rowStride: number;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    public buffer: GPUBuffer,
  ) {
    let s = 1;
    for (let i = 1; i < shape.length; i++) s *= shape[i]!;
    this.rowSize = s;
    this.rowStride = tensorRowStride(dtype, shape);
  }
  get rows(): number {
    return this.shape[0] ?? 1;
  }
}

export function tensorRowStride(dtype: DType, shape: readonly number[]): number {
  let s = 1;
  for (let i = 1; i < shape.length; i++) s *= shape[i]!;
  if (shape.length < 2) return s;
  return dtype === 'i8' ? roundUp(s, 16) : dtype === 'f16' ? roundUp(s, 2) : s;
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'i8' ? 1 : dtype === 'f16' ? 2 : 4;
}

export class GpuTernary {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly granularity: ScaleGranularity,
    /** u32 words per row (padded cols / 16). */
    readonly words: number,
    public weights: GPUBuffer,
    public scales: GPUBuffer,
  ) {}
}

export interface MatrixChunk {
  readonly firstRow: number;
  readonly rows: number;
  readonly data: GPUBuffer;
  /** q8 row scales (a 4-byte placeholder otherwise). */
  readonly scales: GPUBuffer;
}

export class GpuMatrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly format: MatrixFormat,
    /** u32 words per row. */
    readonly words: number,
    readonly chunks: MatrixChunk[],
  ) {}
}

export class GpuKvCache {
  constructor(
    readonly spec: KvCacheSpec,
    readonly k: GPUBuffer[],
    readonly v: GPUBuffer[],
  ) {}
}

/** A step's tokens stay on the host: they travel in each op's parameter window (a few words per token). */
export class GpuBatch {
  readonly n: number;
  /** position, slot interleaved, as the kernels read them. */
  readonly pairs: Uint32Array;
  /** cos/sin tables per RopeParams, built once per batch. */
  readonly rope = new Map<string, Uint32Array>();
  constructor(
    readonly positions: Int32Array,
    readonly slots: Int32Array,
  ) {
    this.n = positions.length;
    this.pairs = new Uint32Array(2 * this.n);
    for (let i = 0; i < this.n; i++) {
      this.pairs[2 * i] = positions[i]!;
      this.pairs[2 * i + 1] = slots[i]!;
    }
  }
}

export interface GpuHandles {
  tensor: GpuTensor;
  ternary: GpuTernary;
  matrix: GpuMatrix;
  kv: GpuKvCache;
  batch: GpuBatch;
}
