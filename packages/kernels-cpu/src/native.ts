/**
 * Loads the addon that `pnpm install` compiled (build/Release/kernels_cpu.node) and types its surface. The addon
 * is context-aware, so every worker_thread that imports this module gets its own instance.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { TrineError } from '@trine/core';

export interface KvSpecArg {
  readonly layers: number;
  readonly slots: number;
  readonly context: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: 'f16' | 'f32';
}

type Buf = ArrayBufferView | ArrayBuffer;

/** One backend instance: a kernel table (code path) and a thread pool. Arguments are checked natively too. */
export interface NativeBackend {
  variant(): string;
  threads(): number;
  destroy(): void;
  quantize(scheme: number, x: Float32Array, rows: number, k: number, q: Int8Array, scales: Float32Array): void;
  ternaryMatmul(out: Float32Array | Int32Array, wantAcc: boolean, scheme: number, q: Int8Array, qScales: Float32Array,
    k: number, packed: ArrayBuffer, n: number, wScales: Float32Array, granularity: number, rows: number): void;
  lmHead(out: Float32Array, x: Float32Array, d: number, select: Int32Array, format: number, matrix: Buf,
    scales: Float32Array, vocab: number): void;
  embedding(out: Float32Array, ids: Int32Array, format: number, matrix: Buf, scales: Float32Array, vocab: number,
    d: number): void;
  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number, rows: number, d: number): void;
  add(out: Float32Array, a: Float32Array, b: Float32Array, count: number): void;
  rope(x: Float32Array, heads: number, headDim: number, ropeDim: number, theta: number, positions: Int32Array,
    n: number): void;
  gated(out: Float32Array, gate: Float32Array, up: Float32Array, act: number, count: number): void;
  argmax(out: Int32Array, logits: Float32Array, rows: number, vocab: number): void;
  kvStore(cache: ArrayBuffer, spec: KvSpecArg, layer: number, k: Float32Array, v: Float32Array,
    positions: Int32Array, slots: Int32Array, n: number): void;
  attention(out: Float32Array, q: Float32Array, cache: ArrayBuffer, spec: KvSpecArg, layer: number,
    positions: Int32Array, slots: Int32Array, n: number, heads: number, scale: number, roundProbs: boolean): void;
  readBandwidth(megabytes: number, reps: number): number;
  /** Names of this path's batch-1 ternary kernels (native/common.h GemvKernel); empty when it has one. */
  gemvKernels(): string[];
  /** Use batch-1 kernel `index` for matrices of n rows × k columns. */
  setGemv(n: number, k: number, index: number): void;
}

export interface HostInfo {
  /** The fastest path this CPU runs: `avx512`, `avx2`, `neon` or `scalar`. */
  readonly best: string;
  readonly avx2: boolean;
  readonly avx512vnni: boolean;
  readonly neonDot: boolean;
  /** Paths compiled into this build. */
  readonly built: readonly string[];
  /** The T16 layout (native/common.h): tiles of tileRows × tileCols weights in tileBytes bytes. */
  readonly tileBytes: number;
  readonly tileRows: number;
  readonly tileCols: number;
}

export interface NativeAddon {
  NativeCpuBackend: new (variant: string, threads: number) => NativeBackend;
  /** Repack into T16 (native/common.h). format: 0 codes, 1 i2_s, 2 tq2_0, 3 tq1_0. */
  repackTernary(format: number, data: Uint8Array | Int8Array, rows: number, cols: number): ArrayBuffer;
  unpackTernaryRow(packed: ArrayBuffer, rows: number, cols: number, row: number, out: Int8Array): void;
  /** Zeroed, 64-byte aligned native memory. */
  allocAligned(bytes: number): ArrayBuffer;
  /** Zeroed, 64-byte aligned memory for weights: on 2 MB pages where the OS allows (Linux). */
  allocWeights(bytes: number): ArrayBuffer;
  /** Moves a filled weight buffer's whole 2 MB pages onto huge pages where the OS allows (Linux); else nothing. */
  adviseHugePages(view: ArrayBufferView): void;
  /** Per-row int8 + f32 scale (scale = max|w|/127, q = roundHalfEven(w/scale)). */
  quantizeQ8(src: Uint16Array | Float32Array, isF16: boolean, rows: number, cols: number): [ArrayBuffer, ArrayBuffer];
  hostInfo(): HostInfo;
}

let cached: NativeAddon | undefined;

function packageRoot(): string {
  // src/native.ts in tests, dist/index.{js,cjs} when built: the package root is one level up either way.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

/** The compiled addon, or a BACKEND_UNAVAILABLE error saying how to build it. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const file = path.join(packageRoot(), 'build', 'Release', 'kernels_cpu.node');
  if (!existsSync(file)) {
    throw new TrineError('BACKEND_UNAVAILABLE',
      `cpu backend: native addon not built (${file} missing); run \`pnpm install\` (node-gyp compiles it)`);
  }
  try {
    cached = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (cause) {
    throw new TrineError('BACKEND_UNAVAILABLE', `cpu backend: cannot load ${file}: ${String(cause)}`, { cause });
  }
  return cached;
}
