/**
 * Host storage of the reference backend: typed arrays, nothing hidden. These are the handle types of
 * `ReferenceBackend`; the native CPU backend may use them too, to fall back to a reference kernel per op.
 */
import type {
  DType,
  HostArray,
  HostTensor,
  KvCacheSpec,
  MatrixFormat,
  ScaleGranularity,
} from '../kernels/spec.js';

export function allocHostArray<D extends DType>(dtype: D, length: number): HostArray<D> {
  switch (dtype) {
    case 'f32':
      return new Float32Array(length) as HostArray<D>;
    case 'f16':
      return new Uint16Array(length) as HostArray<D>;
    case 'i32':
      return new Int32Array(length) as HostArray<D>;
    default:
      return new Int8Array(length) as HostArray<D>;
  }
}

/** A row-major host tensor (also satisfies `HostTensor`, so `read` can return a copy of it directly). */
export class RefTensor<D extends DType = DType> implements HostTensor<D> {
  constructor(
    readonly dtype: D,
    readonly shape: readonly number[],
    readonly data: HostArray<D>,
  ) {}

  /** Elements per row (product of every dimension after the first). */
  get rowSize(): number {
    let s = 1;
    for (let i = 1; i < this.shape.length; i++) s *= this.shape[i]!;
    return s;
  }

  static zeros<D extends DType>(dtype: D, shape: readonly number[]): RefTensor<D> {
    return new RefTensor(dtype, [...shape], allocHostArray(dtype, shape.reduce((a, b) => a * b, 1)));
  }
}

/** A ternary matrix as int8 codes {-1,0,1} [rows, cols] plus its float scales (1, or rows·cols/256). */
export class RefTernary {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly granularity: ScaleGranularity,
    readonly codes: Int8Array,
    readonly scales: Float32Array,
  ) {}

  /** The f32 weight scale that applies to column block `g` (of 256) of row `n`. */
  scaleAt(n: number, g: number): number {
    return this.granularity === 'tensor' ? this.scales[0]! : this.scales[n * (this.cols / 256) + g]!;
  }
}

/**
 * The embedding / LM-head matrix [rows = vocab, cols = hidden]. Exactly one payload is set:
 * f16 bits, f32 values, or q8 (int8 per element plus one f32 scale per row).
 */
export class RefMatrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly format: MatrixFormat,
    readonly f16: Uint16Array | null,
    readonly f32: Float32Array | null,
    readonly q8: { readonly q: Int8Array; readonly scales: Float32Array } | null,
  ) {}
}

/**
 * KV cache: per layer one f32 array [slots, context, kvHeads, headDim] for K and one for V. With an f16 cache the
 * stored values are already rounded through half (they are exactly representable), which is all an f16 cache does
 * to the math.
 */
export class RefKvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  constructor(readonly spec: KvCacheSpec) {
    const per = spec.slots * spec.context * spec.kvHeads * spec.headDim;
    this.k = Array.from({ length: spec.layers }, () => new Float32Array(per));
    this.v = Array.from({ length: spec.layers }, () => new Float32Array(per));
  }

  /** Offset of (slot, position, head 0, dim 0) in a layer's array. */
  offset(slot: number, pos: number): number {
    return (slot * this.spec.context + pos) * this.spec.kvHeads * this.spec.headDim;
  }
}

export class RefBatch {
  readonly n: number;
  constructor(
    readonly positions: Int32Array,
    readonly slots: Int32Array,
  ) {
    this.n = positions.length;
  }
}

export interface RefHandles {
  tensor: RefTensor;
  ternary: RefTernary;
  matrix: RefMatrix;
  kv: RefKvCache;
  batch: RefBatch;
}
