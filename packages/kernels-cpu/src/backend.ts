/**
 * The native CPU backend: `KernelBackend` over the addon. Every op is one synchronous native call (the JS thread
 * blocks while the pool computes), so a decode step spends its time in native code. This file holds storage
 * (handles.ts: typed arrays and 64-byte aligned native memory) and assembles the backend from it, the kernels of
 * kernels/*.ts and the limits it declares. Shapes are validated by core's op table (wrap with `checked`, as the
 * model does); the addon re-checks every byte range it touches (native/glue/args.cc), so a bad call is an error,
 * never a stray write.
 */
import {
  TrineError,
  f32ToF16,
  f16ToF32,
  withKernels,
  type BackendInfo,
  type BackendPlumbing,
  type DType,
  type HostTensor,
  type KvCacheSpec,
  type MatrixFormat,
  type TernaryTensor,
} from '@trine/core';
import { CpuContext } from './context.js';
import {
  count,
  makeArray,
  rowWidth,
  type CpuBatch,
  type CpuHandles,
  type CpuKvCache,
  type CpuMatrix,
  type CpuTensor,
  type CpuTernary,
  type Data,
} from './handles.js';
import { cpuKernels } from './kernels/index.js';
import { describeGemvChoice, type GemvChoice } from './tune.js';
import type { NativeAddon, NativeBackend } from './native.js';

const TERNARY_FORMAT = { codes: 0, i2_s: 1, tq2_0: 2, tq1_0: 3 } as const;
const EMPTY_F32 = new Float32Array(0);
const EMPTY_BUFFER = new ArrayBuffer(0);
/** Largest head the native attention holds in its per-head buffers (generic/float_ops.cc). */
const MAX_HEAD_DIM = 512;

export interface CpuBackendOptions {
  /** Native threads (default: physical cores). */
  threads?: number;
  /** Force a code path: `scalar`, `avx2`, `avx512`, `neon` (default: env TRINE_CPU_VARIANT, else the best). */
  variant?: string;
  /**
   * Force the path's batch-1 ternary kernel by name (`zmm-linear2`, …; default: env TRINE_CPU_GEMV, else the one
   * measured fastest on the model's matrices, see tune.ts).
   */
  gemv?: string;
}

/** Storage and lifecycle: everything but the kernels (assembled below). */
class CpuPlumbing implements BackendPlumbing<CpuHandles> {
  readonly info: BackendInfo;
  /** What every kernel gets first: the native backend and the handles this backend owns. */
  readonly kernelContext: CpuContext;
  /** Buffers hostMemory() handed out: on huge pages already, so uploadMatrix adopts them without advice. */
  private readonly ownMemory = new WeakSet<ArrayBufferLike>();

  constructor(
    private readonly addon: NativeAddon,
    variant: string,
    threads: number,
    details: Record<string, string | number | boolean>,
    gemv?: string,
  ) {
    let native: NativeBackend;
    try {
      native = new addon.NativeCpuBackend(variant, threads);
    } catch (cause) {
      throw new TrineError('BACKEND_UNAVAILABLE', `cpu backend: variant '${variant}': ${(cause as Error).message}`, {
        field: 'variant',
        cause,
      });
    }
    try {
      this.kernelContext = new CpuContext(native, gemv);
    } catch (err) {
      native.destroy();
      throw err;
    }
    const kernels = this.kernelContext.gemv.kernels;
    this.info = {
      name: 'cpu', variant: this.kernelContext.native.variant(), threads: this.kernelContext.native.threads(),
      details: { ...details, ...(kernels.length > 0 ? { gemvKernels: kernels.join(',') } : {}) },
    };
  }

  // ---- storage --------------------------------------------------------------------------------------------------

  alloc(dtype: DType, shape: readonly number[]): CpuTensor {
    return this.kernelContext.track({ dtype, shape: [...shape], data: makeArray(dtype, count(shape)) });
  }

  upload<D extends DType>(host: HostTensor<D>): CpuTensor {
    const t = this.alloc(host.dtype, host.shape);
    (t.data as Data).set(host.data as never);
    return t;
  }

  async read(t: CpuTensor, rows?: number): Promise<HostTensor> {
    this.kernelContext.mine(t, 'tensor');
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
    const handle = this.kernelContext.track({ rows: t.rows, cols: t.cols, granularity: t.granularity, packed, scales: Float32Array.from(t.scales) });
    this.kernelContext.gemv.add(handle);
    return handle;
  }

  hostMemory(bytes: number): Uint8Array {
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new TrineError('INVALID_ARGUMENT', `hostMemory: ${bytes} is not a byte count`, { field: 'hostMemory.bytes' });
    const buffer = this.addon.allocWeights(bytes);
    this.ownMemory.add(buffer);
    return new Uint8Array(buffer);
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
      // would sit beside the file's buffer until the next major GC (peak RSS). The caller must not modify it. Read
      // into hostMemory() it is aligned and on huge pages already; any other buffer gets its whole 2 MB pages moved.
      if (host.dtype === 'f16') {
        data = host.data as Uint16Array;
        if (!this.ownMemory.has(data.buffer)) this.addon.adviseHugePages(data);
      } else {
        data = new Uint16Array(this.addon.allocAligned(n * 2));
        for (let i = 0; i < n; i++) data[i] = f32ToF16(host.data[i]!);
      }
    } else if (format === 'f32') {
      if (host.dtype === 'f32') {
        data = host.data as Float32Array;
        if (!this.ownMemory.has(data.buffer)) this.addon.adviseHugePages(data);
      } else {
        data = new Float32Array(this.addon.allocAligned(n * 4));
        for (let i = 0; i < n; i++) data[i] = f16ToF32(host.data[i]!);
      }
    } else {
      throw new TrineError('INVALID_ARGUMENT', `uploadMatrix: format must be f32, f16 or q8, got ${String(format)}`, {
        field: 'uploadMatrix.format',
      });
    }
    return this.kernelContext.track({ rows, cols, format, data, scales });
  }

  createKvCache(spec: KvCacheSpec): CpuKvCache {
    for (const k of ['layers', 'slots', 'context', 'kvHeads', 'headDim'] as const)
      if (!Number.isInteger(spec[k]) || spec[k] <= 0)
        throw new TrineError('INVALID_ARGUMENT', `createKvCache: spec.${k} must be a positive integer`, { field: `spec.${k}` });
    if (spec.headDim > MAX_HEAD_DIM)
      throw new TrineError('INVALID_ARGUMENT', `createKvCache: spec.headDim above ${MAX_HEAD_DIM} is not supported`, { field: 'spec.headDim' });
    const elements = spec.layers * spec.slots * spec.context * spec.kvHeads * spec.headDim;
    const bytes = 2 * elements * (spec.dtype === 'f16' ? 2 : 4);
    if (!Number.isSafeInteger(bytes) || bytes > 2 ** 40)
      throw new TrineError('BUDGET_EXCEEDED', `createKvCache: ${bytes} bytes is too large`, { field: 'spec' });
    return this.kernelContext.track({ spec: { ...spec }, buffer: this.addon.allocAligned(bytes) });
  }

  prepareBatch(positions: Int32Array, slots: Int32Array): CpuBatch {
    if (positions.length !== slots.length)
      throw new TrineError('INVALID_ARGUMENT', 'prepareBatch: positions and slots differ in length', { field: 'slots' });
    return { n: positions.length, positions: Int32Array.from(positions), slots: Int32Array.from(slots) };
  }

  dispose(h: CpuTensor | CpuTernary | CpuMatrix | CpuKvCache): void {
    if (!this.kernelContext.release(h)) return;
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
    return this.kernelContext.native.readBandwidth(megabytes, reps);
  }

  /** The batch-1 ternary kernel chosen for each shape so far, and why (bench reports, `trine info`). */
  gemvChoices(): GemvChoice[] {
    return this.kernelContext.gemv.choices();
  }

  tuning(): string[] {
    return this.gemvChoices().map((c) => `batch-1 ternary ${describeGemvChoice(c)}`);
  }

  destroy(): void {
    this.kernelContext.destroy();
  }
}

const headDimLimit = { max: MAX_HEAD_DIM, reason: `the native attention holds one head in ${MAX_HEAD_DIM} floats` };

/** The native CPU backend: the plumbing above with the kernels of kernels/*.ts, and what it does not run. */
export class CpuBackend extends withKernels(CpuPlumbing, {
  kernels: cpuKernels,
  limits: { kvStore: { headDim: headDimLimit }, attention: { headDim: headDimLimit } },
  context: (be) => be.kernelContext,
}) {}
