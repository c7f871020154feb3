/**
 * The native CPU backend: `KernelBackend` over the addon. Every op is one synchronous native call (the JS thread
 * blocks while the pool computes), so a decode step spends its time in native code. Tensors are JS typed arrays
 * owned by this backend; ternary matrices (T16, native/common.h), output matrices and KV caches live in 64-byte
 * aligned native memory. Shapes are validated by core's `validate` (wrap with `CheckedBackend`, as the model does);
 * the addon re-checks every byte range it touches, so a bad call is an error, never a stray write.
 */
import {
  TrineError,
  f32ToF16,
  f16ToF32,
  type AttentionParams,
  type BackendInfo,
  type DType,
  type GateActivation,
  type HostTensor,
  type KernelBackend,
  type KernelVariant,
  type KvCacheSpec,
  type MatrixFormat,
  type QuantizedActs,
  type RopeParams,
  type Support,
  type TernaryTensor,
} from '@trine/core';
import { loadNative, type NativeAddon, type NativeBackend } from './native.js';

type Data = Float32Array | Uint16Array | Int32Array | Int8Array;

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

const SCHEME = { per_token: 0, per_block256: 1 } as const;
const FORMAT = { f32: 0, f16: 1, q8: 2 } as const;
const TERNARY_FORMAT = { codes: 0, i2_s: 1, tq2_0: 2, tq1_0: 3 } as const;
const EMPTY_F32 = new Float32Array(0);
const EMPTY_BUFFER = new ArrayBuffer(0);

function rowWidth(t: { shape: readonly number[] }): number {
  let w = 1;
  for (let i = 1; i < t.shape.length; i++) w *= t.shape[i]!;
  return w;
}

function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function makeArray(dtype: DType, n: number): Data {
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

export interface CpuBackendOptions {
  /** Native threads (default: env TRINE_THREADS, else physical cores). */
  threads?: number;
  /** Force a code path: `scalar`, `avx2`, `avx512`, `neon` (default: env TRINE_CPU_VARIANT, else the best). */
  variant?: string;
}

export class CpuBackend implements KernelBackend<CpuHandles> {
  readonly info: BackendInfo;
  private native: NativeBackend | null;
  private readonly owned = new WeakSet<object>();

  constructor(
    private readonly addon: NativeAddon,
    variant: string,
    threads: number,
    details: Record<string, string | number | boolean>,
  ) {
    try {
      this.native = new addon.NativeCpuBackend(variant, threads);
    } catch (cause) {
      throw new TrineError('BACKEND_UNAVAILABLE', `cpu backend: variant '${variant}': ${(cause as Error).message}`, {
        field: 'variant',
        cause,
      });
    }
    this.info = { name: 'cpu', variant: this.native.variant(), threads: this.native.threads(), details };
  }

  private get n(): NativeBackend {
    if (!this.native) throw new TrineError('INVALID_ARGUMENT', 'cpu backend: used after destroy()', { field: 'backend' });
    return this.native;
  }

  /** Handles from another backend (or a disposed one) would index memory this backend does not own. */
  private mine<T extends object>(h: T, what: string): T {
    if (!this.owned.has(h))
      throw new TrineError('INVALID_ARGUMENT', `cpu backend: ${what} was not created by this backend (or was disposed)`, {
        field: what,
      });
    return h;
  }

  private track<T extends object>(h: T): T {
    this.owned.add(h);
    return h;
  }

  supports(_v: KernelVariant): Support {
    // Every op, scheme, matrix format, cache dtype and activation runs natively.
    return { ok: true };
  }

  // ---- storage --------------------------------------------------------------------------------------------------

  alloc(dtype: DType, shape: readonly number[]): CpuTensor {
    return this.track({ dtype, shape: [...shape], data: makeArray(dtype, count(shape)) });
  }

  upload<D extends DType>(host: HostTensor<D>): CpuTensor {
    const t = this.alloc(host.dtype, host.shape);
    (t.data as Data).set(host.data as never);
    return t;
  }

  async read(t: CpuTensor, rows?: number): Promise<HostTensor> {
    this.mine(t, 'tensor');
    const r = rows ?? t.shape[0] ?? 1;
    const shape = t.shape.length === 0 ? [] : [r, ...t.shape.slice(1)];
    return { dtype: t.dtype, shape, data: t.data.slice(0, r * rowWidth(t)) } as HostTensor;
  }

  uploadTernary(t: TernaryTensor): CpuTernary {
    const format = TERNARY_FORMAT[t.format];
    if (format === undefined)
      throw new TrineError('INVALID_ARGUMENT', `uploadTernary: format is not a ternary format: ${String(t.format)}`, {
        field: 'uploadTernary.format',
      });
    if (t.granularity === 'tensor' ? t.scales.length !== 1 : t.scales.length !== (t.rows * t.cols) / 256)
      throw new TrineError('INVALID_ARGUMENT', `uploadTernary: ${t.scales.length} scales do not fit ${t.granularity}`, {
        field: 'uploadTernary.scales',
      });
    let packed: ArrayBuffer;
    try {
      // Repacked straight from the file's bytes: the only copy of the weights that survives is the T16 one.
      packed = this.addon.repackTernary(format, t.data, t.rows, t.cols);
    } catch (cause) {
      throw new TrineError('INVALID_ARGUMENT', `uploadTernary ${t.name}: ${(cause as Error).message}`, {
        field: 'uploadTernary.data',
        cause,
      });
    }
    return this.track({ rows: t.rows, cols: t.cols, granularity: t.granularity, packed, scales: Float32Array.from(t.scales) });
  }

  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): CpuMatrix {
    const [rows, cols] = host.shape as [number, number];
    if (host.shape.length !== 2 || host.data.length !== rows * cols)
      throw new TrineError('INVALID_ARGUMENT', 'uploadMatrix: host must be [rows, cols]', { field: 'uploadMatrix.host' });
    const n = rows * cols;
    let data: Float32Array | Uint16Array | Int8Array;
    let scales = EMPTY_F32;
    if (format === 'q8') {
      const [q, s] = this.addon.quantizeQ8(host.data, host.dtype === 'f16', rows, cols);
      data = new Int8Array(q);
      scales = new Float32Array(s);
    } else if (format === 'f16') {
      // A matrix already in its storage type is adopted, not copied: the 2B4T output matrix is 657 MB, and a copy
      // would sit beside the file's buffer until the next major GC (peak RSS). The caller must not modify it.
      if (host.dtype === 'f16') data = host.data as Uint16Array;
      else {
        data = new Uint16Array(this.addon.allocAligned(n * 2));
        for (let i = 0; i < n; i++) data[i] = f32ToF16(host.data[i]!);
      }
    } else if (format === 'f32') {
      if (host.dtype === 'f32') data = host.data as Float32Array;
      else {
        data = new Float32Array(this.addon.allocAligned(n * 4));
        for (let i = 0; i < n; i++) data[i] = f16ToF32(host.data[i]!);
      }
    } else {
      throw new TrineError('INVALID_ARGUMENT', `uploadMatrix: format must be f32, f16 or q8, got ${String(format)}`, {
        field: 'uploadMatrix.format',
      });
    }
    return this.track({ rows, cols, format, data, scales });
  }

  createKvCache(spec: KvCacheSpec): CpuKvCache {
    for (const k of ['layers', 'slots', 'context', 'kvHeads', 'headDim'] as const)
      if (!Number.isInteger(spec[k]) || spec[k] <= 0)
        throw new TrineError('INVALID_ARGUMENT', `createKvCache: spec.${k} must be a positive integer`, { field: `spec.${k}` });
    if (spec.headDim > 512)
      throw new TrineError('INVALID_ARGUMENT', 'createKvCache: spec.headDim above 512 is not supported', { field: 'spec.headDim' });
    const elements = spec.layers * spec.slots * spec.context * spec.kvHeads * spec.headDim;
    const bytes = 2 * elements * (spec.dtype === 'f16' ? 2 : 4);
    if (!Number.isSafeInteger(bytes) || bytes > 2 ** 40)
      throw new TrineError('BUDGET_EXCEEDED', `createKvCache: ${bytes} bytes is too large`, { field: 'spec' });
    return this.track({ spec: { ...spec }, buffer: this.addon.allocAligned(bytes) });
  }

  prepareBatch(positions: Int32Array, slots: Int32Array): CpuBatch {
    if (positions.length !== slots.length)
      throw new TrineError('INVALID_ARGUMENT', 'prepareBatch: positions and slots differ in length', { field: 'slots' });
    return { n: positions.length, positions: Int32Array.from(positions), slots: Int32Array.from(slots) };
  }

  dispose(h: CpuTensor | CpuTernary | CpuMatrix | CpuKvCache): void {
    if (!this.owned.delete(h)) return;
    // Dropping the last reference lets the GC run the native finalizer (aligned buffers) or free the typed array.
    if ('packed' in h) h.packed = EMPTY_BUFFER;
    else if ('buffer' in h && 'spec' in h) h.buffer = EMPTY_BUFFER;
    else if ('format' in h) h.data = EMPTY_F32;
    else (h as CpuTensor).data = EMPTY_F32;
  }

  /**
   * Read-only memory bandwidth in GB/s (best of `reps` sweeps over `megabytes` of fresh memory, split over this
   * backend's threads, with this code path's widest loads): the ceiling to compare GEMV bandwidth with.
   */
  readBandwidth(megabytes = 1024, reps = 3): number {
    if (!Number.isInteger(megabytes) || megabytes < 1 || megabytes > 65536)
      throw new TrineError('INVALID_ARGUMENT', 'readBandwidth: megabytes must be an integer in [1, 65536]', { field: 'megabytes' });
    if (!Number.isInteger(reps) || reps < 1 || reps > 100)
      throw new TrineError('INVALID_ARGUMENT', 'readBandwidth: reps must be an integer in [1, 100]', { field: 'reps' });
    return this.n.readBandwidth(megabytes, reps);
  }

  destroy(): void {
    this.native?.destroy();
    this.native = null;
  }

  // ---- kernels --------------------------------------------------------------------------------------------------

  embedding(out: CpuTensor, table: CpuMatrix, ids: Int32Array): void {
    this.mine(table, 'embedding.table');
    this.n.embedding(out.data as Float32Array, ids, FORMAT[table.format], table.data, table.scales, table.rows, table.cols);
  }

  rmsNorm(out: CpuTensor, x: CpuTensor, weight: CpuTensor, eps: number, rows: number): void {
    const d = weight.shape[0]!;
    this.n.rmsNorm(out.data as Float32Array, x.data as Float32Array, weight.data as Float32Array, eps, rows, d);
  }

  add(out: CpuTensor, a: CpuTensor, b: CpuTensor, rows: number): void {
    this.n.add(out.data as Float32Array, a.data as Float32Array, b.data as Float32Array, rows * rowWidth(out));
  }

  quantizeActs(out: QuantizedActs<CpuTensor>, x: CpuTensor, rows: number): void {
    this.n.quantize(SCHEME[out.scheme], x.data as Float32Array, rows, rowWidth(x), out.q.data as Int8Array,
      out.scales.data as Float32Array);
  }

  ternaryMatmul(out: CpuTensor, a: QuantizedActs<CpuTensor>, w: CpuTernary, rows: number): void {
    this.matmul(out, a, w, rows, false);
  }

  ternaryMatmulAcc(out: CpuTensor, a: QuantizedActs<CpuTensor>, w: CpuTernary, rows: number): void {
    this.matmul(out, a, w, rows, true);
  }

  private matmul(out: CpuTensor, a: QuantizedActs<CpuTensor>, w: CpuTernary, rows: number, acc: boolean): void {
    this.mine(w, 'w');
    if (a.scheme === 'per_token' && w.granularity === 'block256')
      throw new TrineError('UNSUPPORTED', 'ternaryMatmul: per_token cannot run block256-scaled weights', { field: 'a.scheme' });
    this.n.ternaryMatmul(out.data as Float32Array | Int32Array, acc, SCHEME[a.scheme], a.q.data as Int8Array,
      a.scales.data as Float32Array, w.cols, w.packed, w.rows, w.scales, w.granularity === 'block256' ? 1 : 0, rows);
  }

  rope(x: CpuTensor, heads: number, batch: CpuBatch, p: RopeParams): void {
    this.n.rope(x.data as Float32Array, heads, p.headDim, p.ropeDim, p.theta, batch.positions, batch.n);
  }

  kvStore(cache: CpuKvCache, layer: number, k: CpuTensor, v: CpuTensor, batch: CpuBatch): void {
    this.mine(cache, 'cache');
    this.n.kvStore(cache.buffer, cache.spec, layer, k.data as Float32Array, v.data as Float32Array, batch.positions,
      batch.slots, batch.n);
  }

  attention(out: CpuTensor, q: CpuTensor, cache: CpuKvCache, layer: number, batch: CpuBatch, p: AttentionParams): void {
    this.mine(cache, 'cache');
    if (p.kvHeads !== cache.spec.kvHeads || p.headDim !== cache.spec.headDim)
      throw new TrineError('INVALID_ARGUMENT', 'attention: p does not match the cache', { field: 'attention.p' });
    this.n.attention(out.data as Float32Array, q.data as Float32Array, cache.buffer, cache.spec, layer,
      batch.positions, batch.slots, batch.n, p.heads, p.scale, p.roundProbsF16);
  }

  gatedActivation(out: CpuTensor, gate: CpuTensor, up: CpuTensor, act: GateActivation, rows: number): void {
    this.n.gated(out.data as Float32Array, gate.data as Float32Array, up.data as Float32Array, act === 'relu2' ? 0 : 1,
      rows * rowWidth(out));
  }

  lmHead(out: CpuTensor, x: CpuTensor, matrix: CpuMatrix, select: Int32Array): void {
    this.mine(matrix, 'matrix');
    this.n.lmHead(out.data as Float32Array, x.data as Float32Array, matrix.cols, select, FORMAT[matrix.format],
      matrix.data, matrix.scales, matrix.rows);
  }

  argmax(out: CpuTensor, logits: CpuTensor, rows: number): void {
    this.n.argmax(out.data as Int32Array, logits.data as Float32Array, rows, rowWidth(logits));
  }
}
