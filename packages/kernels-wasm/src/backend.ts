/**
 * The wasm backend: storage in one WebAssembly memory, kernels in the AssemblyScript module (assembly/) bound by
 * one file per op (kernels/), and this file's plumbing: uploads, reads, disposal. Weights are copied in once
 * (uploadTernary / uploadMatrix); a forward pass then runs entirely on module memory, and only `read` copies back.
 */
import {
  type BackendInfo,
  type BackendPlumbing,
  type DType,
  type HostTensor,
  type KvCacheSpec,
  type MatrixFormat,
  type TernaryTensor,
  TrineError,
  decodeTernaryCodes,
  f16ToF32,
  f32ToF16,
  quantizeRowsQ8,
  withKernels,
} from '@trine/core';
import { gone, WasmContext } from './context.js';
import type { Executor } from './executor.js';
import {
  DTYPE_BYTES,
  WasmBatch,
  WasmKvCache,
  WasmMatrix,
  WasmTensor,
  WasmTernary,
  type TernaryLayout,
  type WasmHandles,
} from './handles.js';
import type { Heap } from './heap.js';
import * as wasmKernels from './kernels/index.js';
import type { KernelExports } from './module.js';
import { packTernaryLut16, packTernaryRows } from './ternary-pack.js';

export interface WasmBackendParts {
  heap: Heap;
  exports: KernelExports;
  executor: Executor;
  /** `simd128`, `relaxed-simd`, or `scalar` (the readable twins of the SIMD kernels, for checking). */
  variant: 'simd128' | 'relaxed-simd' | 'scalar';
  /** Ternary weight layout: lut16 (table lookup, the default) or w2x64 (codes × int8, relaxed dot where valid). */
  layout: TernaryLayout;
  details: Record<string, string | number | boolean>;
}

/** Storage, uploads and lifecycle; the kernels get `ctx`. */
class WasmPlumbing implements BackendPlumbing<WasmHandles> {
  readonly info: BackendInfo;
  readonly ctx: WasmContext;
  private readonly layout: TernaryLayout;
  private destroyed = false;

  constructor(parts: WasmBackendParts) {
    this.ctx = new WasmContext(parts.heap, parts.exports, parts.executor, parts.variant === 'scalar' ? 1 : 0);
    this.layout = parts.layout;
    this.info = {
      name: 'wasm',
      variant: parts.variant,
      threads: parts.executor.threads,
      details: { ...parts.details, ternaryLayout: parts.layout, memoryLimitBytes: parts.heap.limitBytes },
    };
  }

  /** Bytes of module memory in live allocations (weights, cache, tensors, scratch). */
  get memoryUsed(): number {
    return this.ctx.heap.used;
  }

  /** Bytes still available under the budget: pass it as a model reader's `memoryBudgetBytes` to refuse a model
   *  that cannot fit before reading any tensor. */
  get memoryAvailable(): number {
    return Math.max(0, this.ctx.heap.limitBytes - this.ctx.heap.used - 65536);
  }

  alloc(dtype: DType, shape: readonly number[]): WasmTensor {
    const elems = shape.reduce((a, b) => a * b, 1);
    const bytes = elems * DTYPE_BYTES[dtype];
    const ptr = this.ctx.heap.allocZeroed(bytes, `tensor ${dtype}[${shape.join(', ')}]`);
    return new WasmTensor(dtype, [...shape], ptr, bytes);
  }

  upload<D extends DType>(host: HostTensor<D>): WasmTensor {
    const t = this.alloc(host.dtype, host.shape);
    const src = host.data;
    this.ctx.heap.u8.set(new Uint8Array(src.buffer, src.byteOffset, Math.min(src.byteLength, t.bytes)), t.ptr);
    return t;
  }

  async read(t: WasmTensor, rows?: number): Promise<HostTensor> {
    if (t.disposed) gone('read.t');
    const r = rows ?? t.shape[0]!;
    const n = r * t.rowElems;
    const bytes = this.ctx.heap.u8.slice(t.ptr, t.ptr + n * DTYPE_BYTES[t.dtype]).buffer;
    const data =
      t.dtype === 'f32'
        ? new Float32Array(bytes)
        : t.dtype === 'f16'
          ? new Uint16Array(bytes)
          : t.dtype === 'i32'
            ? new Int32Array(bytes)
            : new Int8Array(bytes);
    return { dtype: t.dtype, shape: [r, ...t.shape.slice(1)], data } as HostTensor;
  }

  uploadTernary(t: TernaryTensor): WasmTernary {
    const Kp = Math.ceil(t.cols / 64) * 64;
    const layout = this.layout;
    const paddedRows = layout === 'lut16' ? Math.ceil(t.rows / 16) * 16 : t.rows;
    const bytes = (paddedRows * Kp) / 4;
    const nScales = t.granularity === 'tensor' ? 1 : (t.rows * t.cols) / 256;
    if (t.scales.length !== nScales) {
      throw new TrineError('INVALID_ARGUMENT', `uploadTernary: ${t.name} has ${t.scales.length} scales, needs ${nScales}`, {
        field: 'uploadTernary.t.scales',
      });
    }
    // module memory first: a matrix over budget is refused before the host decodes anything
    const ptr = this.ctx.heap.alloc(bytes, `ternary ${t.name}`);
    let scalesPtr = -1;
    let codes: Int8Array;
    try {
      scalesPtr = this.ctx.heap.alloc(nScales * 4, `ternary ${t.name} scales`);
      codes = decodeTernaryCodes(t);
    } catch (e) {
      this.ctx.heap.release(ptr, bytes);
      if (scalesPtr >= 0) this.ctx.heap.release(scalesPtr, nScales * 4);
      throw e;
    }
    const pack = layout === 'lut16' ? packTernaryLut16 : packTernaryRows;
    pack(codes, t.rows, t.cols, Kp, this.ctx.heap.u8.subarray(ptr, ptr + bytes));
    new Float32Array(this.ctx.heap.buffer, scalesPtr, nScales).set(t.scales);
    return new WasmTernary(layout, t.rows, t.cols, t.granularity, Kp, ptr, bytes, scalesPtr, nScales * 4);
  }

  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): WasmMatrix {
    const [rows, cols] = host.shape as [number, number];
    const n = rows * cols;
    if (format === 'f16') {
      const ptr = this.ctx.heap.alloc(n * 2, 'matrix f16');
      const dst = new Uint16Array(this.ctx.heap.buffer, ptr, n);
      if (host.dtype === 'f16') dst.set(host.data as Uint16Array);
      else for (let i = 0; i < n; i++) dst[i] = f32ToF16(host.data[i]!);
      const m = new WasmMatrix(rows, cols, 'f16', ptr, n * 2, 0, 0);
      m.hasSpecial = this.ctx.x.f16_has_special(ptr, n) === 1;
      return m;
    }
    if (format === 'f32') {
      const ptr = this.ctx.heap.alloc(n * 4, 'matrix f32');
      const dst = new Float32Array(this.ctx.heap.buffer, ptr, n);
      if (host.dtype === 'f32') dst.set(host.data as Float32Array);
      else for (let i = 0; i < n; i++) dst[i] = f16ToF32(host.data[i]!);
      return new WasmMatrix(rows, cols, 'f32', ptr, n * 4, 0, 0);
    }
    // q8: quantized in row chunks so a 128k-row vocabulary never needs a full f32 copy on the host
    const ptr = this.ctx.heap.alloc(n, 'matrix q8');
    let scalesPtr: number;
    try {
      scalesPtr = this.ctx.heap.alloc(rows * 4, 'matrix q8 scales');
    } catch (e) {
      this.ctx.heap.release(ptr, n);
      throw e;
    }
    const chunk = Math.max(1, Math.floor(2 ** 22 / cols));
    const f32 = new Float32Array(Math.min(rows, chunk) * cols);
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      const m = (r1 - r0) * cols;
      const vals = f32.subarray(0, m);
      const src = host.data.subarray(r0 * cols, r1 * cols);
      if (host.dtype === 'f32') vals.set(src as Float32Array);
      else for (let i = 0; i < m; i++) vals[i] = f16ToF32(src[i]!);
      const { q, scales } = quantizeRowsQ8(vals, r1 - r0, cols);
      new Int8Array(this.ctx.heap.buffer, ptr + r0 * cols, m).set(q);
      new Float32Array(this.ctx.heap.buffer, scalesPtr + r0 * 4, r1 - r0).set(scales);
    }
    return new WasmMatrix(rows, cols, 'q8', ptr, n, scalesPtr, rows * 4);
  }

  createKvCache(spec: KvCacheSpec): WasmKvCache {
    const elem = spec.dtype === 'f16' ? 2 : 4;
    const bytes = spec.layers * 2 * spec.slots * spec.context * spec.kvHeads * spec.headDim * elem;
    const ptr = this.ctx.heap.allocZeroed(bytes, 'kv cache');
    return new WasmKvCache({ ...spec }, ptr, bytes);
  }

  prepareBatch(positions: Int32Array, slots: Int32Array): WasmBatch {
    return new WasmBatch(positions.slice(), slots.slice());
  }

  dispose(h: WasmTensor | WasmTernary | WasmMatrix | WasmKvCache): void {
    if (h.disposed) return;
    if (this.ctx.lutCache?.q === h) this.ctx.lutCache = null;
    h.disposed = true;
    this.ctx.heap.release(h.ptr, h.bytes);
    if ((h instanceof WasmTernary || h instanceof WasmMatrix) && h.scalesBytes > 0) {
      this.ctx.heap.release(h.scalesPtr, h.scalesBytes);
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.ctx.exec.destroy();
  }
}

/** Every op in every variant: the kernels declare no limits. */
export class WasmBackend extends withKernels(WasmPlumbing, { kernels: wasmKernels, context: (be) => be.ctx }) {}
