/**
 * The WebGPU backend: weights, activations and the KV cache live in GPU buffers; every op records a dispatch into
 * the context's one command encoder, and nothing waits for the device until `read` (a decode step is one
 * submission, and only the argmax ids or the requested logits come back).
 */
import {
  TrineError,
  accumulatorGroups,
  decodeTernaryCodes,
  f16ToF32,
  f32ToF16,
  quantizeRowsQ8,
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
import { GpuContext, f32Bits, type Program } from './context.js';
import type { AcquiredDevice } from './device.js';
import {
  GpuBatch,
  GpuKvCache,
  GpuMatrix,
  GpuTensor,
  GpuTernary,
  bytesPerElement,
  roundUp,
  tensorRowStride,
  type GpuHandles,
  type MatrixChunk,
} from './handles.js';
import { WGSL } from './wgsl.generated.js';

const OK: Support = { ok: true };
/** Outputs per ternary / LM-head workgroup (8 teams of 32 lanes) and the most workgroups per dispatch dimension. */
const ROWS_PER_GROUP = 8;
const MAX_GROUPS = 65535;

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

/** Bit offset of weight kk (0..15) of a packed word: 8·(kk mod 4) + 2·⌊kk / 4⌋ (see handles.ts). */
const FIELD_SHIFT = Int32Array.from({ length: 16 }, (_, kk) => 8 * (kk & 3) + 2 * (kk >> 2));

function ternaryRowTile(rows: number): number {
  return rows <= 1 ? 1 : rows === 2 ? 2 : rows <= 4 ? 4 : 8;
}

export class WebGpuBackend implements KernelBackend<GpuHandles> {
  readonly info: BackendInfo;
  private readonly ctx: GpuContext;
  private readonly device: GPUDevice;
  private readonly maxBinding: number;
  private readonly maxChunk: number;
  private readonly dot4: boolean;
  private readonly serial: boolean;
  /** A 4-byte buffer for bindings a variant does not use (q8 scales of non-q8 matrices). */
  private readonly dummy: GPUBuffer;
  private lmScratch: GPUBuffer | null = null;
  private destroyed = false;
  /**
   * An rmsNorm not yet recorded: when the next call quantizes its output (per_token), both run as one dispatch
   * (rms_norm_quantize); any other call records it first (`settle`), so the order of effects is unchanged.
   */
  private pendingNorm: { out: GpuTensor; x: GpuTensor; weight: GpuTensor; eps: number; rows: number } | null = null;
  /** A rope not yet recorded: a rope of another tensor with the same batch and parameters next joins it. */
  private pendingRope: { x: GpuTensor; heads: number; batch: GpuBatch; p: RopeParams } | null = null;
  /** Fuse rmsNorm + quantizeActs (default true; false records every op as its own dispatch). */
  private readonly fuse: boolean;

  constructor(acq: AcquiredDevice, options: WebGpuBackendOptions = {}) {
    this.device = acq.device;
    this.dot4 = (options.dot4 ?? true) && acq.languageFeatures.has('packed_4x8_integer_dot_product');
    this.ctx = new GpuContext(acq.device, WGSL.common!);
    const L = acq.device.limits;
    this.maxBinding = Math.min(L.maxStorageBufferBindingSize, L.maxBufferSize);
    this.maxChunk = Math.min(this.maxBinding, options.maxMatrixChunkBytes ?? Infinity);
    this.dummy = this.ctx.createBuffer(4, 'placeholder');
    this.fuse = options.fuse ?? true;
    const arch = acq.info.architecture || acq.info.vendor || 'gpu';
    const emulated = /swiftshader|llvmpipe|lavapipe/i.test(`${acq.info.architecture} ${acq.info.vendor} ${acq.info.description}`) || acq.isFallback;
    this.ctx.submitEvery = Math.max(0, Math.floor(options.submitEvery ?? (emulated ? 0 : 16)));
    this.serial = (options.reduction ?? (emulated ? 'serial' : 'teams')) === 'serial';
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

  private readonly programs = new Map<string, Program>();
  /** The program for (file, bindings, defines), one object per combination (the context caches by identity). */
  private program(file: string, bindings: Program['bindings'], defines: Program['defines'] = {}): Program {
    let key = `${file}:${bindings.length}`;
    for (const k in defines) key += `,${k}=${String(defines[k])}`;
    let p = this.programs.get(key);
    if (!p) this.programs.set(key, (p = { file, bindings, defines: { DOT4: this.dot4, ...defines } }));
    return p;
  }

  supports(v: KernelVariant): Support {
    return OK;
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
    this.settle();
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
    const codes = decodeTernaryCodes(t);
    const words = roundUp(t.cols, 16) / 16;
    const packed = new Uint32Array(t.rows * words);
    for (let n = 0; n < t.rows; n++) {
      const src = n * t.cols;
      for (let w = 0; w < words; w++) {
        let v = 0;
        const k0 = w * 16;
        for (let kk = 0; kk < 16; kk++) {
          const k = k0 + kk;
          const e = k < t.cols ? codes[src + k]! + 2 : 2; // padding: e = 2, weight 0
          v |= e << FIELD_SHIFT[kk]!;
        }
        packed[n * words + w] = v >>> 0;
      }
    }
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
    this.settle();
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
      this.settle();
      this.ctx.flush();
    } catch {
      // a lost device: nothing left to submit to
    }
    this.ctx.destroy();
    this.device.destroy();
  }

  /** Wait until everything recorded so far has run (benchmarks). */
  async sync(): Promise<void> {
    this.settle();
    this.ctx.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.ctx.check();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Kernels
  // ------------------------------------------------------------------------------------------------------------

  embedding(out: GpuTensor, table: GpuMatrix, ids: Int32Array): void {
    this.settle();
    const D = table.cols;
    const n = ids.length;
    if (n === 0) return;
    const fmt = { F32: table.format === 'f32', F16: table.format === 'f16' };
    const p = this.program('embedding', ['r', 'r', 'rw'], fmt);
    for (const c of table.chunks) {
      const params = new Uint32Array(8 + n);
      params.set([D, n, c.firstRow, c.rows, table.words]);
      params.set(ids, 8);
      this.ctx.dispatch(p, [c.data, c.scales, out.buffer], params, [Math.ceil((n * D) / 256)]);
    }
  }

  /** Record the deferred rmsNorm, if any (every other entry point calls this first). */
  private settle(): void {
    const r = this.pendingRope;
    if (r) {
      this.pendingRope = null;
      this.recordRope(r.x, r.heads, r.batch, r.p, null);
    }
    const n = this.pendingNorm;
    if (!n) return;
    this.pendingNorm = null;
    this.recordNorm(n.out, n.x, n.weight, n.eps, n.rows);
  }

  rmsNorm(out: GpuTensor, x: GpuTensor, weight: GpuTensor, eps: number, rows: number): void {
    this.settle();
    if (rows === 0) return;
    if (this.fuse && out.buffer !== x.buffer && out.dtype === 'f32') {
      this.pendingNorm = { out, x, weight, eps, rows };
      return;
    }
    this.recordNorm(out, x, weight, eps, rows);
  }

  private recordNorm(out: GpuTensor, x: GpuTensor, weight: GpuTensor, eps: number, rows: number): void {
    const D = weight.shape[0]!;
    const params = [D, f32Bits(eps)];
    if (out.buffer === x.buffer) this.ctx.dispatch(this.program('rms_norm', ['r', 'rw'], { IN_PLACE: true }), [weight.buffer, out.buffer], params, [rows]);
    else this.ctx.dispatch(this.program('rms_norm', ['r', 'r', 'rw']), [x.buffer, weight.buffer, out.buffer], params, [rows]);
  }

  /** Elementwise dispatch over `count` invocations, folded into 2-D when it exceeds one dimension's limit. */
  private elementwise(p: Program, buffers: GPUBuffer[], count: number): void {
    const groups = Math.ceil(count / 256);
    const x = Math.min(groups, MAX_GROUPS);
    const y = Math.ceil(groups / x);
    this.ctx.dispatch(p, buffers, [count, x * 256], [x, y]);
  }

  add(out: GpuTensor, a: GpuTensor, b: GpuTensor, rows: number): void {
    this.settle();
    const count = rows * out.rowSize;
    if (count === 0) return;
    const o = out.buffer;
    if (o === a.buffer && o === b.buffer) this.elementwise(this.program('add', ['rw'], { OUT_IS_AB: true }), [o], count);
    else if (o === a.buffer) this.elementwise(this.program('add', ['r', 'rw'], { OUT_IS_A: true }), [b.buffer, o], count);
    else if (o === b.buffer) this.elementwise(this.program('add', ['r', 'rw'], { OUT_IS_B: true }), [a.buffer, o], count);
    else this.elementwise(this.program('add', ['r', 'r', 'rw']), [a.buffer, b.buffer, o], count);
  }

  gatedActivation(out: GpuTensor, gate: GpuTensor, up: GpuTensor, act: GateActivation, rows: number): void {
    this.settle();
    const count = rows * out.rowSize;
    if (count === 0) return;
    const RELU2 = act === 'relu2';
    if (out.buffer === gate.buffer) this.elementwise(this.program('gated_activation', ['r', 'rw'], { IN_PLACE: true, RELU2 }), [up.buffer, out.buffer], count);
    else this.elementwise(this.program('gated_activation', ['r', 'r', 'rw'], { RELU2 }), [gate.buffer, up.buffer, out.buffer], count);
  }

  quantizeActs(out: QuantizedActs<GpuTensor>, x: GpuTensor, rows: number): void {
    const n = this.pendingNorm;
    const K = out.q.shape[1]!;
    const words = out.q.rowStride / 4;
    if (n && n.out === x && rows === n.rows && out.scheme === 'per_token' && K === n.weight.shape[0] && x.rowStride === K) {
      this.pendingNorm = null;
      const buffers = [n.x.buffer, n.weight.buffer, n.out.buffer, out.q.buffer, out.scales.buffer];
      this.ctx.dispatch(this.program('rms_norm_quantize', ['r', 'r', 'rw', 'rw', 'rw']), buffers, [K, f32Bits(n.eps), words], [rows]);
      return;
    }
    this.settle();
    if (rows === 0) return;
    const buffers = [x.buffer, out.q.buffer, out.scales.buffer];
    if (out.scheme === 'per_token') this.ctx.dispatch(this.program('quantize_per_token', ['r', 'rw', 'rw']), buffers, [K, words], [rows]);
    else this.ctx.dispatch(this.program('quantize_per_block256', ['r', 'rw', 'rw']), buffers, [K, words], [K / 256, rows]);
  }

  private ternary(out: GpuTensor, a: QuantizedActs<GpuTensor>, w: GpuTernary, rows: number, acc: boolean): void {
    this.settle();
    if (rows === 0) return;
    const RT = ternaryRowTile(rows);
    const block = a.scheme === 'per_block256';
    const file = this.serial ? 'ternary_serial' : block ? 'ternary_per_block256' : 'ternary_per_token';
    const p = this.program(file, ['r', 'r', 'r', 'r', 'rw'], { ACC: acc, RT, BLOCK: block });
    const N = w.rows;
    const perGroup = this.serial ? 64 : ROWS_PER_GROUP;
    const perDispatch = MAX_GROUPS * perGroup;
    for (let n0 = 0; n0 < N; n0 += perDispatch) {
      const groups = Math.ceil(Math.min(perDispatch, N - n0) / perGroup);
      this.ctx.dispatch(
        p,
        [w.weights, w.scales, a.q.buffer, a.scales.buffer, out.buffer],
        [N, w.words, rows, n0, w.granularity === 'block256' ? 1 : 0],
        [groups],
      );
    }
  }

  ternaryMatmul(out: GpuTensor, a: QuantizedActs<GpuTensor>, w: GpuTernary, rows: number): void {
    this.ternary(out, a, w, rows, false);
  }

  ternaryMatmulAcc(out: GpuTensor, a: QuantizedActs<GpuTensor>, w: GpuTernary, rows: number): void {
    this.ternary(out, a, w, rows, true);
  }

  rope(x: GpuTensor, heads: number, batch: GpuBatch, p: RopeParams): void {
    const r = this.pendingRope;
    if (r && r.batch === batch && r.x.buffer !== x.buffer && sameRope(r.p, p) && batch.n <= ropeTokensPerDispatch(p)) {
      this.pendingRope = null;
      this.recordRope(r.x, r.heads, batch, p, { x, heads });
      return;
    }
    this.settle();
    if (batch.n === 0) return;
    if (this.fuse) this.pendingRope = { x, heads, batch, p };
    else this.recordRope(x, heads, batch, p, null);
  }

  private recordRope(x: GpuTensor, heads: number, batch: GpuBatch, p: RopeParams, second: { x: GpuTensor; heads: number } | null): void {
    const half = p.ropeDim / 2;
    const key = `${p.ropeDim}:${p.theta}`;
    let table = batch.rope.get(key);
    if (!table) {
      table = ropeTable(batch.positions, p);
      batch.rope.set(key, table);
    }
    const perDispatch = ropeTokensPerDispatch(p);
    const prog = second ? this.program('rope', ['rw', 'rw'], { TWO: true }) : this.program('rope', ['rw']);
    const buffers = second ? [x.buffer, second.x.buffer] : [x.buffer];
    const heads2 = second ? second.heads : 0;
    for (let i0 = 0; i0 < batch.n; i0 += perDispatch) {
      const n = Math.min(perDispatch, batch.n - i0);
      const params = new Uint32Array(8 + 2 * n * half);
      params.set([n, heads, p.headDim, half, i0, heads2]);
      params.set(table.subarray(2 * i0 * half, 2 * (i0 + n) * half), 8);
      this.ctx.dispatch(prog, buffers, params, [Math.ceil((n * (heads + heads2) * half) / 256)]);
    }
  }

  kvStore(cache: GpuKvCache, layer: number, k: GpuTensor, v: GpuTensor, batch: GpuBatch): void {
    this.settle();
    const { spec } = cache;
    const E = spec.kvHeads * spec.headDim;
    const half = spec.dtype === 'f16';
    const params = new Uint32Array(8 + 2 * batch.n);
    params.set([batch.n, E, spec.context, spec.slots]);
    params.set(batch.pairs, 8);
    const count = batch.n * (half ? E / 2 : E);
    if (count === 0) return;
    this.ctx.dispatch(this.program('kv_store', ['r', 'r', 'rw', 'rw'], { HALF: half }), [k.buffer, v.buffer, cache.k[layer]!, cache.v[layer]!], params, [
      Math.ceil(count / 256),
    ]);
  }

  attention(out: GpuTensor, q: GpuTensor, cache: GpuKvCache, layer: number, batch: GpuBatch, p: AttentionParams): void {
    this.settle();
    if (batch.n === 0) return;
    if (p.headDim > 256) throw new TrineError('UNSUPPORTED', 'webgpu: attention supports headDim ≤ 256', { field: 'headDim' });
    const { spec } = cache;
    const params = new Uint32Array(8 + 2 * batch.n);
    params.set([p.heads, p.kvHeads, p.headDim, spec.context, f32Bits(p.scale), p.roundProbsF16 ? 1 : 0]);
    params.set(batch.pairs, 8);
    this.ctx.dispatch(this.program('attention', ['r', 'r', 'r', 'rw'], { HALF: spec.dtype === 'f16' }), [q.buffer, cache.k[layer]!, cache.v[layer]!, out.buffer], params, [
      p.heads,
      batch.n,
    ]);
  }

  lmHead(out: GpuTensor, x: GpuTensor, matrix: GpuMatrix, select: Int32Array): void {
    this.settle();
    const D = matrix.cols;
    const Dp = roundUp(D, 4);
    const V = matrix.rows;
    const scratchBytes = ROWS_PER_GROUP * Dp * 4;
    if (!this.lmScratch || this.lmScratch.size < scratchBytes) {
      if (this.lmScratch) this.ctx.retire(this.lmScratch);
      this.lmScratch = this.ctx.createBuffer(scratchBytes, 'lm head scratch');
    }
    const xs = this.lmScratch;
    const fmt = { F32: matrix.format === 'f32', F16: matrix.format === 'f16', Q8: matrix.format === 'q8' };
    for (let i0 = 0; i0 < select.length; i0 += ROWS_PER_GROUP) {
      const count = Math.min(ROWS_PER_GROUP, select.length - i0);
      const prep = new Uint32Array(8 + count);
      prep.set([D, Dp, count]);
      prep.set(select.subarray(i0, i0 + count), 8);
      this.ctx.dispatch(this.program('lm_head_prep', ['r', 'rw'], { ROUND: matrix.format !== 'f32' }), [x.buffer, xs], prep, [Math.ceil((count * Dp) / 256)]);
      const p = this.program(this.serial ? 'lm_head_serial' : 'lm_head', ['r', 'r', 'r', 'rw'], { ...fmt, RT: count });
      const perGroup = this.serial ? 64 : ROWS_PER_GROUP;
      for (const c of matrix.chunks) {
        // Chunks hold at most MAX_GROUPS·8 rows; the serial kernel covers 64 per workgroup, so one dispatch suffices.
        this.ctx.dispatch(p, [c.data, c.scales, xs, out.buffer], [D, Dp, c.rows, c.firstRow, V, i0, matrix.words, 0], [Math.ceil(c.rows / perGroup)]);
      }
    }
  }

  argmax(out: GpuTensor, logits: GpuTensor, rows: number): void {
    this.settle();
    if (rows === 0) return;
    this.ctx.dispatch(this.program('argmax', ['r', 'rw']), [logits.buffer, out.buffer], [logits.rowSize], [rows]);
  }
}

/** Tokens per rope dispatch, so each table slice fits the parameter window. */
function ropeTokensPerDispatch(p: RopeParams): number {
  return Math.max(1, Math.floor((1 << 18) / p.ropeDim) - 1);
}

function sameRope(a: RopeParams, b: RopeParams): boolean {
  return a.ropeDim === b.ropeDim && a.headDim === b.headDim && a.theta === b.theta;
}

/** cos, sin bit patterns per (token, pair), with the reference's f32 angle recurrence (ggml's). */
function ropeTable(positions: Int32Array, p: RopeParams): Uint32Array {
  const fr = Math.fround;
  const half = p.ropeDim / 2;
  const thetaScale = fr(Math.pow(p.theta, fr(-2 / p.ropeDim)));
  const f = new Float32Array(2 * positions.length * half);
  for (let i = 0; i < positions.length; i++) {
    let angle = fr(positions[i]!);
    for (let j = 0; j < half; j++) {
      f[2 * (i * half + j)] = Math.cos(angle);
      f[2 * (i * half + j) + 1] = Math.sin(angle);
      angle = fr(angle * thetaScale);
    }
  }
  return new Uint32Array(f.buffer);
}

