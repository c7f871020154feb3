/**
 * The kernel module's exports, bound once, and loading its bytes in Node (fs) or a browser (fetch) without any
 * bundler: the .wasm files sit beside the bundled JS in dist/ and are found relative to import.meta.url.
 */
import { TrineError } from '@trine/core';

type P = number; // a byte offset into the module's memory
type B = number; // a wasm bool (0 / 1)

/** Every export of assembly/index.ts. Parallel kernels end with (tid, lo, hi): the range this thread computes. */
export interface KernelExports {
  f32_to_f16_row(dst: P, src: P, n: number): void;
  f16_to_f32_row_simd(dst: P, src: P, n: number): void;
  round_f16_row(dst: P, src: P, n: number): void;
  round_f16_row_scaled(dst: P, src: P, n: number, scale: number, permute: B): void;
  f16_has_special(src: P, n: number): number;
  ternary_prepare(act: P, a16: P, sums: P, q: P, K: number, Kp: number, G: number, rows: number, copy: B): void;
  ternary_acc(out: P, w: P, act: P, a16: P, sums: P, Kp: number, G: number, N: number, rows: number, scalar: B,
    tid: number, n0: number, n1: number): void;
  ternary_matmul_per_token(out: P, w: P, act: P, a16: P, sums: P, ascales: P, wscales: P, wGroups: number, Kp: number,
    N: number, rows: number, scalar: B, tid: number, n0: number, n1: number): void;
  ternary_matmul_per_block(out: P, w: P, act: P, a16: P, sums: P, ascales: P, wscales: P, wGroups: number, Kp: number,
    N: number, rows: number, scalar: B, tid: number, n0: number, n1: number): void;
  ternary_lut_tables(tables: P, act: P, Kp: number, rows: number): void;
  lut_row_bytes(Kp: number): number;
  ternary_lut_acc(out: P, w: P, act: P, tables: P, Kp: number, G: number, N: number, rows: number, scalar: B,
    tmp: P, tid: number, t0: number, t1: number): void;
  ternary_lut_per_token(out: P, w: P, act: P, tables: P, ascales: P, wscales: P, wGroups: number, Kp: number,
    N: number, rows: number, scalar: B, tmp: P, tid: number, t0: number, t1: number): void;
  ternary_lut_per_block(out: P, w: P, act: P, tables: P, ascales: P, wscales: P, wGroups: number, Kp: number,
    N: number, rows: number, scalar: B, tmp: P, tid: number, t0: number, t1: number): void;
  quantize_per_token(q: P, scales: P, x: P, K: number, rows: number, scalar: B): void;
  quantize_per_block256(q: P, scales: P, x: P, K: number, rows: number, scalar: B): void;
  embedding_f16(out: P, table: P, D: number, ids: P, n: number): void;
  embedding_f32(out: P, table: P, D: number, ids: P, n: number): void;
  embedding_q8(out: P, table: P, scales: P, D: number, ids: P, n: number): void;
  rms_norm(out: P, x: P, w: P, eps: number, D: number, rows: number): void;
  add(out: P, a: P, b: P, count: number): void;
  gated_activation(out: P, gate: P, up: P, act: number, count: number): void;
  rope(x: P, cs: P, n: number, heads: number, headDim: number, half: number): void;
  argmax(out: P, logits: P, V: number, rows: number): void;
  kv_store(kbase: P, vbase: P, k: P, v: P, row: number, positions: P, slots: P, n: number, context: number, half: B): number;
  attention(out: P, q: P, kbase: P, vbase: P, positions: P, slots: P, H: number, Hkv: number, Dh: number,
    context: number, scale: number, roundProbs: B, half: B, fast: B, scratchBase: P, scratchStride: number,
    tid: number, u0: number, u1: number): void;
  lm_head_f16(out: P, x: P, table: P, D: number, tid: number, v0: number, v1: number): void;
  lm_head_f16_exact(out: P, x: P, table: P, D: number, tid: number, v0: number, v1: number): void;
  lm_head_f32(out: P, x: P, table: P, D: number, tid: number, v0: number, v1: number): void;
  lm_head_q8(out: P, x: P, table: P, scales: P, D: number, tid: number, v0: number, v1: number): void;
}

/** The kernels a thread pool splits over a range (the rest run on the calling thread). */
export type ParallelKernel =
  | 'ternary_acc'
  | 'ternary_matmul_per_token'
  | 'ternary_matmul_per_block'
  | 'ternary_lut_acc'
  | 'ternary_lut_per_token'
  | 'ternary_lut_per_block'
  | 'attention'
  | 'lm_head_f16'
  | 'lm_head_f16_exact'
  | 'lm_head_f32'
  | 'lm_head_q8';
export const PARALLEL_KERNELS: readonly ParallelKernel[] = [
  'ternary_acc',
  'ternary_matmul_per_token',
  'ternary_matmul_per_block',
  'ternary_lut_acc',
  'ternary_lut_per_token',
  'ternary_lut_per_block',
  'attention',
  'lm_head_f16',
  'lm_head_f16_exact',
  'lm_head_f32',
  'lm_head_q8',
];

export type ModuleVariant = 'simd' | 'relaxed' | 'simd-mt' | 'relaxed-mt';

export const isNode: boolean =
  typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions?.node;

/** Where the .wasm files are looked for: beside this module (dist/), then ../dist (tests running from src/). */
function candidates(file: string, baseUrl?: string | URL): URL[] {
  if (baseUrl !== undefined) return [new URL(file, baseUrl)];
  return [new URL(`./${file}`, import.meta.url), new URL(`../dist/${file}`, import.meta.url)];
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

async function loadBytes(file: string, baseUrl?: string | URL): Promise<Uint8Array<ArrayBuffer>> {
  const tried: string[] = [];
  for (const url of candidates(file, baseUrl)) {
    try {
      if (isNode && url.protocol === 'file:') {
        const { readFile } = await import('node:fs/promises');
        return new Uint8Array(await readFile(url)) as Uint8Array<ArrayBuffer>;
      }
      const res = await fetch(url);
      if (res.ok) return new Uint8Array(await res.arrayBuffer());
      tried.push(`${url.href} (HTTP ${res.status})`);
    } catch (e) {
      tried.push(`${url.href} (${(e as Error).message})`);
    }
  }
  throw new TrineError(
    'BACKEND_UNAVAILABLE',
    `wasm backend: cannot load ${file}: ${tried.join('; ')} (was the package built? run pnpm build)`,
    { field: 'wasm' },
  );
}

/** Load and compile one variant (cached per base URL); `null` when this host cannot validate it. */
export function compileVariant(variant: ModuleVariant, baseUrl?: string | URL): Promise<WebAssembly.Module | null> {
  const key = `${variant}@${String(baseUrl ?? '')}`;
  let p = compiled.get(key);
  if (!p) {
    p = loadBytes(`trine-kernels-${variant}.wasm`, baseUrl).then((bytes) =>
      WebAssembly.validate(bytes) ? WebAssembly.compile(bytes) : (null as unknown as WebAssembly.Module),
    );
    compiled.set(key, p);
  }
  return p.then((m) => m ?? null);
}

export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
