import type {
  BatchDesc,
  DType,
  KvCacheDesc,
  KvCacheSpec,
  MatrixDesc,
  MatrixFormat,
  ScaleGranularity,
  TensorDesc,
  TernaryDesc,
} from '@trine/core';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, i32: 4, i8: 1 };

/** A tensor in the module's memory at `ptr`, row-major, `bytes` long. */
export class WasmTensor implements TensorDesc {
  disposed = false;
  /** Bumped by every kernel that writes int8 activations here, so derived tables know when they are stale. */
  version = 0;
  readonly rowElems: number;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly ptr: number,
    readonly bytes: number,
  ) {
    let w = 1;
    for (let i = 1; i < shape.length; i++) w *= shape[i]!;
    this.rowElems = w;
  }
}

/** Packed ternary layouts: assembly/ternary.ts (w2x64) and assembly/ternary-lut.ts (lut16, 16-row tiles). */
export type TernaryLayout = 'w2x64' | 'lut16';

/**
 * A ternary matrix in one of the module's 2-bit layouts (Kp = cols rounded up to 64; lut16 also pads rows to 16),
 * with its f32 scales (1 per tensor, or rows·cols/256 per block) at scalesPtr.
 */
export class WasmTernary implements TernaryDesc {
  disposed = false;
  constructor(
    readonly layout: TernaryLayout,
    readonly rows: number,
    readonly cols: number,
    readonly granularity: ScaleGranularity,
    readonly Kp: number,
    readonly ptr: number,
    readonly bytes: number,
    readonly scalesPtr: number,
    readonly scalesBytes: number,
  ) {}
  /** Scale blocks per row (0 = one scale for the tensor), as the epilogue kernels take it. */
  get wGroups(): number {
    return this.granularity === 'tensor' ? 0 : this.cols / 256;
  }
}

/** Embedding / LM-head matrix: f16 bits, f32, or q8 (int8 + one f32 scale per row at scalesPtr). */
export class WasmMatrix implements MatrixDesc {
  disposed = false;
  /** An f16 matrix holding Inf or NaN takes the exact (slower) LM head kernel. */
  hasSpecial = false;
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly format: MatrixFormat,
    readonly ptr: number,
    readonly bytes: number,
    readonly scalesPtr: number,
    readonly scalesBytes: number,
  ) {}
}

/** KV cache: per layer K [slots, context, Hkv, Dh] then V, elements f16 bits or f32. */
export class WasmKvCache implements KvCacheDesc {
  disposed = false;
  /** An Inf or NaN half was stored: attention then takes the exact (slower) half decoding. */
  hasSpecial = false;
  readonly elemBytes: number;
  /** Bytes of K (and of V) per layer. */
  readonly planeBytes: number;
  constructor(
    readonly spec: KvCacheSpec,
    readonly ptr: number,
    readonly bytes: number,
  ) {
    this.elemBytes = spec.dtype === 'f16' ? 2 : 4;
    this.planeBytes = spec.slots * spec.context * spec.kvHeads * spec.headDim * this.elemBytes;
  }
  k(layer: number): number {
    return this.ptr + layer * 2 * this.planeBytes;
  }
  v(layer: number): number {
    return this.k(layer) + this.planeBytes;
  }
}

/** A step's tokens. Host-only: copied into scratch when a kernel needs them (batches are made per step and never
 *  disposed, so they must not hold module memory). Rope tables are built once per batch and parameters. */
export class WasmBatch implements BatchDesc {
  readonly n: number;
  readonly rope = new Map<string, Float32Array>();
  constructor(
    readonly positions: Int32Array,
    readonly slots: Int32Array,
  ) {
    this.n = positions.length;
  }
}

export interface WasmHandles {
  tensor: WasmTensor;
  ternary: WasmTernary;
  matrix: WasmMatrix;
  kv: WasmKvCache;
  batch: WasmBatch;
}
