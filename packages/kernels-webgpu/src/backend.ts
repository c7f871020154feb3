/**
 * The WebGPU backend: weights, activations and the KV cache live in GPU buffers; every op records a dispatch into
 * the context's one command encoder, and nothing waits for the device until `read` (a decode step is one
 * submission, and only the argmax ids or the requested logits come back). This file holds storage (upload, read,
 * dispose) and assembles the backend from it, the kernels of kernels/*.ts and the limits it declares; beside them
 * the plumbing the kernels share: context.ts (recording), programs.ts (the program cache), fusion.ts (deferred
 * ops), handles.ts (layouts).
 */
import {
  TrineError,
  decodeTernaryCodes,
  f16ToF32,
  f32ToF16,
  quantizeRowsQ8,
  withKernels,
  type BackendInfo,
  type BackendPlumbing,
  type DType,
  type HostTensor,
  type KvCacheSpec,
  type MatrixFormat,
  type TernaryTensor,
} from '@trine/core';
import { GpuContext } from './context.js';
import type { AcquiredDevice } from './device.js';
import { Fusion } from './fusion.js';
import {
  GpuBatch,
  GpuKvCache,
  GpuMatrix,
  GpuTensor,
  GpuTernary,
  bytesPerElement,
  packTernaryWords,
  roundUp,
  tensorRowStride,
  type GpuHandles,
  type MatrixChunk,
} from './handles.js';
import { MAX_GROUPS, ROWS_PER_GROUP, type KernelContext } from './kernel-context.js';
import { MAX_ATTENTION_HEAD_DIM, recordNorm, recordRope, webgpuKernels } from './kernels/index.js';
import { ProgramCache } from './programs.js';
import { WGSL } from './wgsl.generated.js';

export interface WebGpuBackendOptions {
  /** Use the dot4I8Packed instruction when the adapter offers it (default true). */
  dot4?: boolean;
  /**
   * How the matrix-vector kernels reduce: `teams` (32 invocations per output, a workgroup reduction: for GPUs) or
   * `serial` (one invocation per output, no barriers: for CPU emulators such as SwiftShader, where barriers are
   * slow). Default: serial on SwiftShader / CPU adapters, teams elsewhere.
   */
  reduction?: 'teams' | 'serial';
  /**
   * Submit every this many dispatches, so the GPU starts on a step while the host still records it. Default: 16 on
   * real GPUs (measured on an H200: 157.7 tok/s batch-1 decode vs 77.0 with one submission per step; 8 and 32 were
   * slower), 0 on CPU emulators (one submission per step, submitted by `read`). Nothing is read back in between.
   */
  submitEvery?: number;
  /** Fuse an rmsNorm with the per_token quantizeActs of its output into one dispatch (default true). */
  fuse?: boolean;
  /** Cap on one matrix chunk's bytes (default: the device's storage binding limit); lower it to test splitting. */
  maxMatrixChunkBytes?: number;
}

/** Storage, recording and lifecycle: everything but the kernels (assembled below). */
class WebGpuPlumbing implements BackendPlumbing<GpuHandles> {
  readonly info: BackendInfo;
  private readonly ctx: GpuContext;
  private readonly device: GPUDevice;
  private readonly maxBinding: number;
  private readonly maxChunk: number;
  private readonly dot4: boolean;
  private readonly serial: boolean;
  /** A 4-byte buffer for bindings a variant does not use (q8 scales of non-q8 matrices). */
  private readonly dummy: GPUBuffer;
  private destroyed = false;
  /** Deferred rmsNorm / rope (`fusion.enabled` false records every op as its own dispatch). */
  private readonly fusion: Fusion;
  /** What every kernel gets first. */
  readonly kernelContext: KernelContext;

  constructor(acq: AcquiredDevice, options: WebGpuBackendOptions = {}) {
    this.device = acq.device;
    this.dot4 = (options.dot4 ?? true) && acq.languageFeatures.has('packed_4x8_integer_dot_product');
    this.ctx = new GpuContext(acq.device, WGSL.common!);
    const L = acq.device.limits;
    this.maxBinding = Math.min(L.maxStorageBufferBindingSize, L.maxBufferSize);
    this.maxChunk = Math.min(this.maxBinding, options.maxMatrixChunkBytes ?? Infinity);
    this.dummy = this.ctx.createBuffer(4, 'placeholder');
    this.fusion = new Fusion(options.fuse ?? true, {
      norm: (n) => recordNorm(this.kernelContext, n),
      rope: (r) => recordRope(this.kernelContext, r, null),
    });
    const arch = acq.info.architecture || acq.info.vendor || 'gpu';
    const emulated = /swiftshader|llvmpipe|lavapipe/i.test(`${acq.info.architecture} ${acq.info.vendor} ${acq.info.description}`) || acq.isFallback;
    this.ctx.submitEvery = Math.max(0, Math.floor(options.submitEvery ?? (emulated ? 0 : 16)));
    this.serial = (options.reduction ?? (emulated ? 'serial' : 'teams')) === 'serial';
    this.kernelContext = { ctx: this.ctx, programs: new ProgramCache(this.dot4), fusion: this.fusion, serial: this.serial, scratch: { lmHead: null } };
    this.info = {
      name: 'webgpu',
      variant: `${typeof navigator !== 'undefined' && navigator.gpu ? 'browser' : 'dawn'}:${arch}${this.dot4 ? ':dot4' : ''}${this.serial ? ':serial' : ''}`,
      threads: 1,
      details: {
        vendor: acq.info.vendor,
        architecture: acq.info.architecture,
        device: acq.info.device,
        description: acq.info.description,
        dot4I8Packed: this.dot4,
        reduction: this.serial ? 'serial' : 'teams',
        shaderF16: acq.features.has('shader-f16'),
        subgroups: acq.features.has('subgroups'),
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxBufferSize: L.maxBufferSize,
      },
    };
    acq.device.lost.then((info) => {
      if (!this.destroyed) this.ctx.lost = `${info.reason}: ${info.message}`;
    });
    acq.device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      const oom = typeof GPUOutOfMemoryError !== 'undefined' && err instanceof GPUOutOfMemoryError;
      this.ctx.pendingError ??= new TrineError(
        oom ? 'BUDGET_EXCEEDED' : 'DEVICE_LOST',
        oom ? `webgpu: out of GPU memory: ${err.message}` : `webgpu: device error: ${err.message}`,
      );
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Storage
  // ------------------------------------------------------------------------------------------------------------

  alloc(dtype: DType, shape: readonly number[]): GpuTensor {
    const rows = shape.length ? shape[0]! : 1;
    const bytes = rows * tensorRowStride(dtype, shape) * bytesPerElement(dtype);
    return new GpuTensor(dtype, [...shape], this.ctx.createBuffer(bytes, `tensor [${shape.join(',')}]`));
  }

  upload<D extends DType>(host: HostTensor<D>): GpuTensor {
    const t = new GpuTensor(host.dtype, [...host.shape], this.ctx.createBuffer(4, 'placeholder'));
    t.buffer.destroy();
    const bpe = bytesPerElement(host.dtype);
    const src = new Uint8Array(host.data.buffer, host.data.byteOffset, host.data.byteLength);
    let bytes: Uint8Array;
    if (t.rowStride === t.rowSize) bytes = src;
    else {
      bytes = new Uint8Array(t.rows * t.rowStride * bpe);
      for (let r = 0; r < t.rows; r++) bytes.set(src.subarray(r * t.rowSize * bpe, (r + 1) * t.rowSize * bpe), r * t.rowStride * bpe);
    }
    t.buffer = this.ctx.createFilled(bytes, `tensor [${host.shape.join(',')}]`);
    return t;
  }

  async read(t: GpuTensor, rows?: number): Promise<HostTensor> {
    this.fusion.settle();
    const r = rows ?? t.rows;
    const bpe = bytesPerElement(t.dtype);
    const raw = await this.ctx.readBytes(t.buffer, r * t.rowStride * bpe);
    let bytes = raw;
    if (t.rowStride !== t.rowSize) {
      bytes = new Uint8Array(r * t.rowSize * bpe);
      for (let i = 0; i < r; i++) bytes.set(raw.subarray(i * t.rowStride * bpe, (i * t.rowStride + t.rowSize) * bpe), i * t.rowSize * bpe);
    }
    const shape = t.shape.length ? [r, ...t.shape.slice(1)] : [];
    const b = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const data =
      t.dtype === 'f32' ? new Float32Array(b) : t.dtype === 'i32' ? new Int32Array(b) : t.dtype === 'f16' ? new Uint16Array(b) : new Int8Array(b);
    return { dtype: t.dtype, shape, data } as HostTensor;
  }

  uploadTernary(t: TernaryTensor): GpuTernary {
    const words = roundUp(t.cols, 16) / 16;
    const packed = packTernaryWords(decodeTernaryCodes(t), t.rows, t.cols);
    if (packed.byteLength > this.maxBinding) {
      throw new TrineError('BUDGET_EXCEEDED', `webgpu: ternary ${t.name} (${packed.byteLength} bytes) exceeds one storage binding (${this.maxBinding})`, {
        field: t.name,
      });
    }
    const weights = this.ctx.createFilled(new Uint8Array(packed.buffer), `ternary ${t.name}`);
    const scales = this.ctx.createFilled(new Uint8Array(Float32Array.from(t.scales).buffer), `ternary ${t.name} scales`);
    return new GpuTernary(t.rows, t.cols, t.granularity, words, weights, scales);
  }

  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): GpuMatrix {
    const [rows, cols] = host.shape as [number, number];
    const f32 = (): Float32Array => {
      if (host.dtype === 'f32') return host.data as Float32Array;
      const out = new Float32Array(rows * cols);
      const h = host.data as Uint16Array;
      for (let i = 0; i < out.length; i++) out[i] = f16ToF32(h[i]!);
      return out;
    };
    let words: number;
    let rowBytes: (r0: number, r1: number) => Uint8Array;
    let q8: { q: Int8Array; scales: Float32Array } | null = null;
    if (format === 'f32') {
      const v = f32();
      words = cols;
      rowBytes = (r0, r1) => new Uint8Array(v.buffer, v.byteOffset + r0 * cols * 4, (r1 - r0) * cols * 4);
    } else if (format === 'f16') {
      let h: Uint16Array;
      if (host.dtype === 'f16') h = host.data as Uint16Array;
      else {
        const v = host.data as Float32Array;
        h = new Uint16Array(v.length);
        for (let i = 0; i < v.length; i++) h[i] = f32ToF16(v[i]!);
      }
      const stride = roundUp(cols, 2);
      words = stride / 2;
      rowBytes = (r0, r1) => {
        if (stride === cols) return new Uint8Array(h.buffer, h.byteOffset + r0 * cols * 2, (r1 - r0) * cols * 2);
        const out = new Uint16Array((r1 - r0) * stride);
        for (let r = r0; r < r1; r++) out.set(h.subarray(r * cols, (r + 1) * cols), (r - r0) * stride);
        return new Uint8Array(out.buffer);
      };
    } else {
      q8 = quantizeRowsQ8(f32(), rows, cols);
      const stride = roundUp(cols, 4);
      words = stride / 4;
      const q = q8.q;
      rowBytes = (r0, r1) => {
        const out = new Int8Array((r1 - r0) * stride);
        for (let r = r0; r < r1; r++) out.set(q.subarray(r * cols, (r + 1) * cols), (r - r0) * stride);
        return new Uint8Array(out.buffer);
      };
    }
    const perChunk = Math.max(1, Math.min(Math.floor(this.maxChunk / (words * 4)), MAX_GROUPS * ROWS_PER_GROUP));
    const chunks: MatrixChunk[] = [];
    try {
      for (let r0 = 0; r0 < rows; r0 += perChunk) {
        const r1 = Math.min(rows, r0 + perChunk);
        const data = this.ctx.createFilled(rowBytes(r0, r1), `matrix rows ${r0}..${r1}`);
        const scales = q8 ? this.ctx.createFilled(new Uint8Array(q8.scales.slice(r0, r1).buffer), 'matrix scales') : this.dummy;
        chunks.push({ firstRow: r0, rows: r1 - r0, data, scales });
      }
    } catch (e) {
      for (const c of chunks) this.disposeChunk(c);
      throw e;
    }
    return new GpuMatrix(rows, cols, format, words, chunks);
  }

  private disposeChunk(c: MatrixChunk): void {
    for (const b of [c.data, c.scales]) {
      if (b === this.dummy) continue;
      this.ctx.forget(b);
      this.ctx.retire(b);
    }
  }

  createKvCache(spec: KvCacheSpec): GpuKvCache {
    const E = spec.kvHeads * spec.headDim;
    if (spec.dtype === 'f16' && E % 2 !== 0) {
      throw new TrineError('UNSUPPORTED', 'webgpu: an f16 KV cache needs an even kvHeads·headDim', { field: 'kv.headDim' });
    }
    const bytes = spec.slots * spec.context * E * (spec.dtype === 'f16' ? 2 : 4);
    if (bytes > this.maxBinding) {
      throw new TrineError('BUDGET_EXCEEDED', `webgpu: one layer of the KV cache needs ${bytes} bytes, above one storage binding (${this.maxBinding})`, {
        field: 'kv.context',
      });
    }
    const k: GPUBuffer[] = [];
    const v: GPUBuffer[] = [];
    try {
      for (let l = 0; l < spec.layers; l++) {
        k.push(this.ctx.createBuffer(bytes, `kv cache layer ${l} K`));
        v.push(this.ctx.createBuffer(bytes, `kv cache layer ${l} V`));
      }
    } catch (e) {
      for (const b of [...k, ...v]) b.destroy();
      throw e;
    }
    return new GpuKvCache({ ...spec }, k, v);
  }

  prepareBatch(positions: Int32Array, slots: Int32Array): GpuBatch {
    return new GpuBatch(positions.slice(), slots.slice());
  }

  dispose(h: GpuTensor | GpuTernary | GpuMatrix | GpuKvCache): void {
    this.fusion.settle();
    const drop = (b: GPUBuffer) => {
      this.ctx.forget(b);
      this.ctx.retire(b);
    };
    if (h instanceof GpuTensor) drop(h.buffer);
    else if (h instanceof GpuTernary) {
      drop(h.weights);
      drop(h.scales);
    } else if (h instanceof GpuMatrix) for (const c of h.chunks) this.disposeChunk(c);
    else for (const b of [...h.k, ...h.v]) drop(b);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      this.fusion.settle();
      this.ctx.flush();
    } catch {
      // a lost device: nothing left to submit to
    }
    this.ctx.destroy();
    this.device.destroy();
  }

  /** Wait until everything recorded so far has run (benchmarks). */
  async sync(): Promise<void> {
    this.fusion.settle();
    this.ctx.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.ctx.check();
  }
}

/** The WebGPU backend: the plumbing above with the kernels of kernels/*.ts, and what it does not run. */
export class WebGpuBackend extends withKernels(WebGpuPlumbing, {
  kernels: webgpuKernels,
  limits: {
    attention: {
      headDim: { max: MAX_ATTENTION_HEAD_DIM, reason: `the attention program holds one query head in ${MAX_ATTENTION_HEAD_DIM} floats of workgroup memory` },
    },
  },
  context: (be) => be.kernelContext,
}) {}
