/**
 * The wasm backend: storage in one WebAssembly memory, kernels in the AssemblyScript module (assembly/), a thin
 * binding here. Weights are copied in once (uploadTernary / uploadMatrix); a forward pass then runs entirely on
 * module memory, and only `read` copies back.
 */
import {
  type ActQuantScheme,
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
  TrineError,
  decodeTernaryCodes,
  f16ToF32,
  f32ToF16,
  quantizeRowsQ8,
} from '@trine/core';
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
import type { KernelExports } from './module.js';
import { packTernaryLut16, packTernaryRows } from './ternary-pack.js';

const OK: Support = { ok: true };

function gone(what: string): never {
  throw new TrineError('INVALID_ARGUMENT', `wasm backend: ${what} was disposed`, { field: what });
}

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

export class WasmBackend implements KernelBackend<WasmHandles> {
  readonly info: BackendInfo;
  private readonly heap: Heap;
  private readonly x: KernelExports;
  private readonly exec: Executor;
  private readonly scalar: 0 | 1;
  private readonly layout: TernaryLayout;
  private readonly scratch = new Map<string, { ptr: number; bytes: number }>();
  private destroyed = false;
  /** The activations whose lookup tables sit in the 'lut-tables' scratch. */
  private lutCache: { q: WasmTensor; version: number; rows: number; K: number; Kp: number; act: number; tables: number } | null = null;

  constructor(parts: WasmBackendParts) {
    this.heap = parts.heap;
    this.x = parts.exports;
    this.exec = parts.executor;
    this.scalar = parts.variant === 'scalar' ? 1 : 0;
    this.layout = parts.layout;
    this.info = {
      name: 'wasm',
      variant: parts.variant,
      threads: parts.executor.threads,
      details: { ...parts.details, ternaryLayout: parts.layout, memoryLimitBytes: parts.heap.limitBytes },
    };
  }

  supports(_v: KernelVariant): Support {
    return OK;
  }

  /** Bytes of module memory in live allocations (weights, cache, tensors, scratch). */
  get memoryUsed(): number {
    return this.heap.used;
  }

  /** Bytes still available under the budget: pass it as a model reader's `memoryBudgetBytes` to refuse a model
   *  that cannot fit before reading any tensor. */
  get memoryAvailable(): number {
    return Math.max(0, this.heap.limitBytes - this.heap.used - 65536);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Storage
  // -------------------------------------------------------------------------------------------------------------

  alloc(dtype: DType, shape: readonly number[]): WasmTensor {
    const elems = shape.reduce((a, b) => a * b, 1);
    const bytes = elems * DTYPE_BYTES[dtype];
    const ptr = this.heap.allocZeroed(bytes, `tensor ${dtype}[${shape.join(', ')}]`);
    return new WasmTensor(dtype, [...shape], ptr, bytes);
  }

  upload<D extends DType>(host: HostTensor<D>): WasmTensor {
    const t = this.alloc(host.dtype, host.shape);
    const src = host.data;
    this.heap.u8.set(new Uint8Array(src.buffer, src.byteOffset, Math.min(src.byteLength, t.bytes)), t.ptr);
    return t;
  }

  async read(t: WasmTensor, rows?: number): Promise<HostTensor> {
    if (t.disposed) gone('read.t');
    const r = rows ?? t.shape[0]!;
    const n = r * t.rowElems;
    const bytes = this.heap.u8.slice(t.ptr, t.ptr + n * DTYPE_BYTES[t.dtype]).buffer;
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
    const ptr = this.heap.alloc(bytes, `ternary ${t.name}`);
    let scalesPtr = -1;
    let codes: Int8Array;
    try {
      scalesPtr = this.heap.alloc(nScales * 4, `ternary ${t.name} scales`);
      codes = decodeTernaryCodes(t);
    } catch (e) {
      this.heap.release(ptr, bytes);
      if (scalesPtr >= 0) this.heap.release(scalesPtr, nScales * 4);
      throw e;
    }
    const pack = layout === 'lut16' ? packTernaryLut16 : packTernaryRows;
    pack(codes, t.rows, t.cols, Kp, this.heap.u8.subarray(ptr, ptr + bytes));
    new Float32Array(this.heap.buffer, scalesPtr, nScales).set(t.scales);
    return new WasmTernary(layout, t.rows, t.cols, t.granularity, Kp, ptr, bytes, scalesPtr, nScales * 4);
  }

  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): WasmMatrix {
    const [rows, cols] = host.shape as [number, number];
    const n = rows * cols;
    if (format === 'f16') {
      const ptr = this.heap.alloc(n * 2, 'matrix f16');
      const dst = new Uint16Array(this.heap.buffer, ptr, n);
      if (host.dtype === 'f16') dst.set(host.data as Uint16Array);
      else for (let i = 0; i < n; i++) dst[i] = f32ToF16(host.data[i]!);
      const m = new WasmMatrix(rows, cols, 'f16', ptr, n * 2, 0, 0);
      m.hasSpecial = this.x.f16_has_special(ptr, n) === 1;
      return m;
    }
    if (format === 'f32') {
      const ptr = this.heap.alloc(n * 4, 'matrix f32');
      const dst = new Float32Array(this.heap.buffer, ptr, n);
      if (host.dtype === 'f32') dst.set(host.data as Float32Array);
      else for (let i = 0; i < n; i++) dst[i] = f16ToF32(host.data[i]!);
      return new WasmMatrix(rows, cols, 'f32', ptr, n * 4, 0, 0);
    }
    // q8: quantized in row chunks so a 128k-row vocabulary never needs a full f32 copy on the host
    const ptr = this.heap.alloc(n, 'matrix q8');
    let scalesPtr: number;
    try {
      scalesPtr = this.heap.alloc(rows * 4, 'matrix q8 scales');
    } catch (e) {
      this.heap.release(ptr, n);
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
      new Int8Array(this.heap.buffer, ptr + r0 * cols, m).set(q);
      new Float32Array(this.heap.buffer, scalesPtr + r0 * 4, r1 - r0).set(scales);
    }
    return new WasmMatrix(rows, cols, 'q8', ptr, n, scalesPtr, rows * 4);
  }

  createKvCache(spec: KvCacheSpec): WasmKvCache {
    const elem = spec.dtype === 'f16' ? 2 : 4;
    const bytes = spec.layers * 2 * spec.slots * spec.context * spec.kvHeads * spec.headDim * elem;
    const ptr = this.heap.allocZeroed(bytes, 'kv cache');
    return new WasmKvCache({ ...spec }, ptr, bytes);
  }

  prepareBatch(positions: Int32Array, slots: Int32Array): WasmBatch {
    return new WasmBatch(positions.slice(), slots.slice());
  }

  dispose(h: WasmTensor | WasmTernary | WasmMatrix | WasmKvCache): void {
    if (h.disposed) return;
    if (this.lutCache?.q === h) this.lutCache = null;
    h.disposed = true;
    this.heap.release(h.ptr, h.bytes);
    if ((h instanceof WasmTernary || h instanceof WasmMatrix) && h.scalesBytes > 0) {
      this.heap.release(h.scalesPtr, h.scalesBytes);
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.exec.destroy();
  }

  /** A reusable scratch area of at least `bytes` (grown by reallocation; contents not preserved). */
  private area(name: string, bytes: number): number {
    const cur = this.scratch.get(name);
    if (cur && cur.bytes >= bytes) return cur.ptr;
    if (cur) this.heap.release(cur.ptr, cur.bytes);
    if (name === 'act' || name === 'lut-tables') this.lutCache = null;
    const size = Math.max(bytes, 256);
    const ptr = this.heap.alloc(size, `scratch ${name}`);
    this.scratch.set(name, { ptr, bytes: size });
    return ptr;
  }

  private ints(name: string, values: Int32Array): number {
    const ptr = this.area(name, values.length * 4);
    new Int32Array(this.heap.buffer, ptr, values.length).set(values);
    return ptr;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Kernels
  // -------------------------------------------------------------------------------------------------------------

  embedding(out: WasmTensor, table: WasmMatrix, ids: Int32Array): void {
    const idp = this.ints('ids', ids);
    if (table.format === 'f16') this.x.embedding_f16(out.ptr, table.ptr, table.cols, idp, ids.length);
    else if (table.format === 'f32') this.x.embedding_f32(out.ptr, table.ptr, table.cols, idp, ids.length);
    else this.x.embedding_q8(out.ptr, table.ptr, table.scalesPtr, table.cols, idp, ids.length);
  }

  rmsNorm(out: WasmTensor, x: WasmTensor, weight: WasmTensor, eps: number, rows: number): void {
    this.x.rms_norm(out.ptr, x.ptr, weight.ptr, eps, weight.shape[0]!, rows);
  }

  add(out: WasmTensor, a: WasmTensor, b: WasmTensor, rows: number): void {
    this.x.add(out.ptr, a.ptr, b.ptr, rows * out.rowElems);
  }

  quantizeActs(out: QuantizedActs<WasmTensor>, x: WasmTensor, rows: number): void {
    const K = out.q.rowElems;
    const f = out.scheme === 'per_token' ? this.x.quantize_per_token : this.x.quantize_per_block256;
    f(out.q.ptr, out.scales.ptr, x.ptr, K, rows, this.scalar);
    out.q.version++;
  }

  /** Padded activation rows and their group sums, as the ternary kernels read them. */
  private prepareActs(a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number, G: number): [number, number, number] {
    this.lutCache = null; // the 'act' scratch is shared
    const K = w.cols;
    const copy = w.Kp !== K;
    const act = copy ? this.area('act', rows * w.Kp) : a.q.ptr;
    const a16 = this.area('act16', rows * w.Kp * 2);
    const sums = this.area('sums', rows * G * 4);
    this.x.ternary_prepare(act, a16, sums, a.q.ptr, K, w.Kp, G, rows, copy ? 1 : 0);
    return [act, a16, sums];
  }

  private groups(scheme: ActQuantScheme, w: WasmTernary): number {
    return scheme === 'per_token' ? 1 : w.cols / 256;
  }

  /** lut16: activation rows padded to Kp (when needed) and their lookup tables. */
  private prepareLut(a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number): [number, number, number] {
    const tmp = this.area('lut-tmp', 256 * this.exec.threads); // 64 i32 sums per thread
    // q, k, v (and gate, up) read the same activations: build their tables once
    const c = this.lutCache;
    if (c && c.q === a.q && c.version === a.q.version && c.rows >= rows && c.Kp === w.Kp && c.K === w.cols) {
      return [c.act, c.tables, tmp];
    }
    const K = w.cols;
    let act = a.q.ptr;
    if (w.Kp !== K) {
      act = this.area('act', rows * w.Kp);
      const u8 = this.heap.u8;
      for (let r = 0; r < rows; r++) {
        u8.copyWithin(act + r * w.Kp, a.q.ptr + r * K, a.q.ptr + (r + 1) * K);
        u8.fill(0, act + r * w.Kp + K, act + (r + 1) * w.Kp);
      }
    }
    const tables = this.area('lut-tables', rows * this.x.lut_row_bytes(w.Kp));
    this.x.ternary_lut_tables(tables, act, w.Kp, rows);
    this.lutCache = { q: a.q, version: a.q.version, rows, K, Kp: w.Kp, act, tables };
    return [act, tables, tmp];
  }

  ternaryMatmul(out: WasmTensor, a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number): void {
    if (w.disposed) gone('ternaryMatmul.w');
    if (w.layout === 'lut16') {
      const [act, tables, tmp] = this.prepareLut(a, w, rows);
      const kernel = a.scheme === 'per_token' ? 'ternary_lut_per_token' : 'ternary_lut_per_block';
      const args = [out.ptr, w.ptr, act, tables, a.scales.ptr, w.scalesPtr, w.wGroups, w.Kp, w.rows, rows, this.scalar, tmp];
      this.exec.run(kernel, args, Math.ceil(w.rows / 16));
      return;
    }
    const G = this.groups(a.scheme, w);
    const [act, a16, sums] = this.prepareActs(a, w, rows, G);
    const kernel = a.scheme === 'per_token' ? 'ternary_matmul_per_token' : 'ternary_matmul_per_block';
    this.exec.run(
      kernel,
      [out.ptr, w.ptr, act, a16, sums, a.scales.ptr, w.scalesPtr, w.wGroups, w.Kp, w.rows, rows, this.scalar],
      w.rows,
    );
  }

  ternaryMatmulAcc(out: WasmTensor, a: QuantizedActs<WasmTensor>, w: WasmTernary, rows: number): void {
    if (w.disposed) gone('ternaryMatmulAcc.w');
    const G = this.groups(a.scheme, w);
    if (w.layout === 'lut16') {
      const [act, tables, tmp] = this.prepareLut(a, w, rows);
      const args = [out.ptr, w.ptr, act, tables, w.Kp, G, w.rows, rows, this.scalar, tmp];
      this.exec.run('ternary_lut_acc', args, Math.ceil(w.rows / 16));
      return;
    }
    const [act, a16, sums] = this.prepareActs(a, w, rows, G);
    this.exec.run('ternary_acc', [out.ptr, w.ptr, act, a16, sums, w.Kp, G, w.rows, rows, this.scalar], w.rows);
  }

  rope(x: WasmTensor, heads: number, batch: WasmBatch, p: RopeParams): void {
    const half = p.ropeDim / 2;
    const table = ropeTable(batch, p);
    const cs = this.area('rope', table.byteLength);
    new Float32Array(this.heap.buffer, cs, table.length).set(table);
    this.x.rope(x.ptr, cs, batch.n, heads, p.headDim, half);
  }

  kvStore(cache: WasmKvCache, layer: number, k: WasmTensor, v: WasmTensor, batch: WasmBatch): void {
    if (cache.disposed) gone('kvStore.cache');
    const s = cache.spec;
    const special = this.x.kv_store(
      cache.k(layer), cache.v(layer), k.ptr, v.ptr, s.kvHeads * s.headDim,
      this.ints('positions', batch.positions), this.ints('slots', batch.slots), batch.n, s.context,
      s.dtype === 'f16' ? 1 : 0,
    );
    if (special) cache.hasSpecial = true;
  }

  attention(out: WasmTensor, q: WasmTensor, cache: WasmKvCache, layer: number, batch: WasmBatch, p: AttentionParams): void {
    if (cache.disposed) gone('attention.cache');
    const s = cache.spec;
    let maxPos = 0;
    for (let i = 0; i < batch.n; i++) maxPos = Math.max(maxPos, batch.positions[i]!);
    const stride = Math.ceil(((2 * p.headDim + maxPos + 1) * 4) / 64) * 64;
    const scratch = this.area('attention', stride * this.exec.threads);
    this.exec.run(
      'attention',
      [
        out.ptr, q.ptr, cache.k(layer), cache.v(layer), this.ints('positions', batch.positions),
        this.ints('slots', batch.slots), p.heads, p.kvHeads, p.headDim, s.context, p.scale,
        p.roundProbsF16 ? 1 : 0, s.dtype === 'f16' ? 1 : 0, s.dtype === 'f16' && !cache.hasSpecial ? 1 : 0, scratch, stride,
      ],
      batch.n * p.heads,
    );
  }

  gatedActivation(out: WasmTensor, gate: WasmTensor, up: WasmTensor, act: GateActivation, rows: number): void {
    this.x.gated_activation(out.ptr, gate.ptr, up.ptr, act === 'relu2' ? 0 : 1, rows * out.rowElems);
  }

  lmHead(out: WasmTensor, x: WasmTensor, matrix: WasmMatrix, select: Int32Array): void {
    if (matrix.disposed) gone('lmHead.matrix');
    const { rows: V, cols: D } = matrix;
    for (let i = 0; i < select.length; i++) {
      let xp = x.ptr + select[i]! * D * 4;
      const fast = matrix.format === 'f16' && !matrix.hasSpecial;
      if (matrix.format !== 'f32') {
        const rounded = this.area('lmhead-x', D * 4);
        // the fast f16 kernel reads halves as f32 bit patterns scaled by 2^-112, even/odd split, so it takes x
        // scaled by 2^112 and permuted to match
        this.x.round_f16_row_scaled(rounded, xp, D, fast ? 2 ** 112 : 1, fast ? 1 : 0);
        xp = rounded;
      }
      const o = out.ptr + i * V * 4;
      if (fast) this.exec.run('lm_head_f16', [o, xp, matrix.ptr, D], V);
      else if (matrix.format === 'f16') this.exec.run('lm_head_f16_exact', [o, xp, matrix.ptr, D], V);
      else if (matrix.format === 'f32') this.exec.run('lm_head_f32', [o, xp, matrix.ptr, D], V);
      else this.exec.run('lm_head_q8', [o, xp, matrix.ptr, matrix.scalesPtr, D], V);
    }
  }

  argmax(out: WasmTensor, logits: WasmTensor, rows: number): void {
    this.x.argmax(out.ptr, logits.ptr, logits.rowElems, rows);
  }
}

const fr = Math.fround;

/** cos/sin [n, 2, ropeDim/2] by ggml's f32 angle recurrence (as packages/core reference rope), cached per batch. */
function ropeTable(batch: WasmBatch, p: RopeParams): Float32Array {
  const key = `${p.ropeDim}:${p.theta}`;
  let t = batch.rope.get(key);
  if (t) return t;
  const half = p.ropeDim / 2;
  const thetaScale = fr(Math.pow(p.theta, fr(-2 / p.ropeDim)));
  t = new Float32Array(batch.n * 2 * half);
  for (let i = 0; i < batch.n; i++) {
    let angle = fr(batch.positions[i]!);
    const base = i * 2 * half;
    for (let j = 0; j < half; j++) {
      t[base + j] = Math.cos(angle);
      t[base + half + j] = Math.sin(angle);
      angle = fr(angle * thetaScale);
    }
  }
  batch.rope.set(key, t);
  return t;
}
