/**
 * The recording side of the backend: one command encoder (one compute pass) collects every op until something
 * needs the device (a read, or a full parameter arena), then it is submitted as one unit. Programs are compiled
 * once per (file, defines) — the cache key — and get their per-run values through a window of the parameter
 * arena (binding 0, dynamic offset), which is uploaded with one writeBuffer right before the submit.
 */
import { TrineError } from '@trine/core';
import { preprocess, type Defines } from './preprocess.js';
import { WGSL } from './wgsl.generated.js';

/** How a program binds storage buffers after the parameter window: read-only or read-write. */
export type Access = 'r' | 'rw';

export interface Program {
  /** The .wgsl file (without extension). */
  readonly file: string;
  readonly defines: Defines;
  readonly bindings: readonly Access[];
}

const ARENA_BYTES = 4 << 20;
/** Bytes a program may read from its parameter window (the binding size of binding 0). */
export const PARAM_WINDOW_BYTES = 1 << 20;

export class GpuContext {
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  /** The same, by program object: the per-dispatch lookup, without building the key. */
  private readonly byProgram = new WeakMap<Program, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  /**
   * Bind groups by (layout, buffers...): a trie keyed by object identity, so a dispatch finds its cached group
   * with a few Map lookups and no key building. Cleared when a bound buffer is destroyed (rare: not per step).
   */
  private bindGroups = new Map<GPUBindGroupLayout, BindNode>();
  private bindGroupCount = 0;
  private readonly arena: GPUBuffer;
  private readonly host = new ArrayBuffer(ARENA_BYTES);
  private readonly hostU32 = new Uint32Array(this.host);
  private used = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** The pipeline last set on the open pass: consecutive dispatches of one program skip setPipeline. */
  private passPipeline: GPUComputePipeline | null = null;
  /** The dynamic offset array handed to setBindGroup, reused (no allocation per dispatch). */
  private readonly dynOffset = [0];
  private readonly align: number;
  /** Buffers to destroy once the commands that use them are submitted. */
  private retired: GPUBuffer[] = [];
  private readonly staging: GPUBuffer[] = [];
  /** The first asynchronous device error (validation, out of memory), thrown by the next read. */
  pendingError: TrineError | null = null;
  /** Submit after this many dispatches (0: only when a read or a full arena needs it). */
  submitEvery = 0;
  private sinceFlush = 0;
  lost: string | null = null;

  constructor(
    readonly device: GPUDevice,
    private readonly common: string,
  ) {
    this.align = Math.max(256, device.limits.minStorageBufferOffsetAlignment);
    this.arena = device.createBuffer({ size: ARENA_BYTES + PARAM_WINDOW_BYTES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  }

  check(): void {
    if (this.lost !== null) throw new TrineError('DEVICE_LOST', `webgpu: the device was lost (${this.lost}); recreate the backend or fall back to another`);
  }

  /** A storage buffer; size is checked against the device's limits first so a too-large request is a clear error. */
  createBuffer(bytes: number, what: string, extraUsage = 0, mapped = false): GPUBuffer {
    this.check();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const max = this.device.limits.maxBufferSize;
    if (size > max) {
      throw new TrineError('BUDGET_EXCEEDED', `webgpu: ${what} needs ${size} bytes, above this device's maxBufferSize ${max}`, { field: what });
    }
    try {
      return this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
        mappedAtCreation: mapped,
      });
    } catch (e) {
      throw new TrineError('BUDGET_EXCEEDED', `webgpu: could not allocate ${size} bytes for ${what}: ${String(e)}`, { field: what, cause: e });
    }
  }

  /** A buffer filled from host bytes (mapped at creation: no queue write to order against pending commands). */
  createFilled(bytes: Uint8Array, what: string): GPUBuffer {
    const buf = this.createBuffer(bytes.byteLength, what, 0, true);
    try {
      new Uint8Array(buf.getMappedRange()).set(bytes);
    } catch (e) {
      buf.destroy();
      throw new TrineError('BUDGET_EXCEEDED', `webgpu: could not map ${bytes.byteLength} bytes for ${what}: ${String(e)}`, { field: what, cause: e });
    }
    buf.unmap();
    return buf;
  }

  /** Destroy after the commands recorded so far have been submitted. */
  retire(b: GPUBuffer): void {
    if (this.encoder) this.retired.push(b);
    else b.destroy();
  }

  private pipelineFor(p: Program): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const known = this.byProgram.get(p);
    if (known) return known;
    const e = this.compile(p);
    this.byProgram.set(p, e);
    return e;
  }

  private compile(p: Program): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const key = `${p.file}|${JSON.stringify(p.defines)}`;
    let e = this.pipelines.get(key);
    if (e) return e;
    const source = WGSL[p.file];
    if (source === undefined) throw new Error(`webgpu: no shader ${p.file}`);
    const code = preprocess(`${this.common}\n${source}`, p.defines);
    const layoutKey = p.bindings.join(',');
    let layout = this.layouts.get(layoutKey);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage', hasDynamicOffset: true } },
          ...p.bindings.map((a, i) => ({
            binding: i + 1,
            visibility: GPUShaderStage.COMPUTE,
            buffer: { type: a === 'r' ? ('read-only-storage' as const) : ('storage' as const) },
          })),
        ],
      });
      this.layouts.set(layoutKey, layout);
    }
    const module = this.device.createShaderModule({ code, label: key });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    e = { pipeline, layout };
    this.pipelines.set(key, e);
    return e;
  }

  /**
   * Record one dispatch. `params` are the u32 words of the parameter window (floats as bit patterns: see `f32Bits`),
   * `buffers` the storage bindings in the program's order.
   */
  dispatch(p: Program, buffers: readonly GPUBuffer[], params: ArrayLike<number>, groups: readonly [number, number?, number?]): void {
    this.check();
    const bytes = params.length * 4;
    if (bytes > PARAM_WINDOW_BYTES) throw new Error(`webgpu: ${p.file} parameters (${bytes} bytes) exceed the window`);
    if (this.used + bytes > ARENA_BYTES) this.flush();
    const offset = this.used;
    this.hostU32.set(params, offset / 4);
    this.used = offset + Math.ceil(Math.max(bytes, 4) / this.align) * this.align;

    const { pipeline, layout } = this.pipelineFor(p);
    if (this.bindGroupCount >= 4096) this.clearBindGroups();
    let node: BindNode | undefined = this.bindGroups.get(layout);
    if (!node) this.bindGroups.set(layout, (node = { next: new Map(), group: null }));
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i]!;
      let child: BindNode | undefined = node.next.get(b);
      if (!child) node.next.set(b, (child = { next: new Map(), group: null }));
      node = child;
    }
    let group = node.group;
    if (!group) {
      group = node.group = this.device.createBindGroup({
        layout,
        entries: [
          { binding: 0, resource: { buffer: this.arena, offset: 0, size: PARAM_WINDOW_BYTES } },
          ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
        ],
      });
      this.bindGroupCount++;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass();
      this.passPipeline = null;
    }
    if (this.passPipeline !== pipeline) {
      this.pass.setPipeline(pipeline);
      this.passPipeline = pipeline;
    }
    this.dynOffset[0] = offset;
    this.pass.setBindGroup(0, group, this.dynOffset);
    this.pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    if (this.submitEvery > 0 && ++this.sinceFlush >= this.submitEvery) this.flush();
  }

  /** Forget cached bind groups that may name a buffer about to be destroyed (all of them: disposal is rare). */
  forget(_b: GPUBuffer): void {
    if (this.bindGroupCount > 0) this.clearBindGroups();
  }

  private clearBindGroups(): void {
    this.bindGroups = new Map();
    this.bindGroupCount = 0;
  }

  private endPass(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Submit everything recorded (one submission). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.used > 0) this.device.queue.writeBuffer(this.arena, 0, this.host, 0, this.used);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.used = 0;
    this.sinceFlush = 0;
    for (const b of this.retired) b.destroy();
    this.retired = [];
  }

  /** Copy `bytes` from the start of `src` back to the host: records the copy, submits, waits for the map. */
  async readBytes(src: GPUBuffer, bytes: number): Promise<Uint8Array> {
    this.check();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const i = this.staging.findIndex((s) => s.size >= size && s.size <= size * 4);
    const stage =
      i >= 0
        ? this.staging.splice(i, 1)[0]!
        : this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass().copyBufferToBuffer(src, 0, stage, 0, size);
    this.flush();
    try {
      await stage.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      this.check();
      throw this.pendingError ?? new TrineError('DEVICE_LOST', `webgpu: reading back failed: ${String(e)}`, { cause: e });
    }
    const out = new Uint8Array(stage.getMappedRange(0, size).slice(0, bytes));
    stage.unmap();
    if (this.staging.length < 8) this.staging.push(stage);
    else stage.destroy();
    this.check();
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
    return out;
  }

  destroy(): void {
    this.pass = null;
    this.encoder = null;
    for (const b of this.staging) b.destroy();
    this.arena.destroy();
    this.clearBindGroups();
  }
}

interface BindNode {
  readonly next: Map<GPUBuffer, BindNode>;
  group: GPUBindGroup | null;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
/** The bit pattern of an f32, for the parameter window. */
export function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0]!;
}
