/**
 * Feature detection. SIMD128 is required (every browser since 2021, Node ≥ 16). Relaxed SIMD is used only when the
 * module validates AND its relaxed dot agrees with the scalar kernel on a known input: Node 20 validates it behind
 * a flag but computes i32x4.relaxed_dot_i8x16_i7x16_add_s wrongly (docs: toolchain notes §2.9). Threads need
 * SharedArrayBuffer, workers, and cross-origin isolation in browsers.
 */
import { instantiate, isNode } from './module.js';

/** Does relaxed SIMD in `module` compute the same accumulators as the scalar path? */
export function relaxedDotIsCorrect(module: WebAssembly.Module, shared: boolean): boolean {
  try {
    const memory = new WebAssembly.Memory(shared ? { initial: 2, maximum: 2, shared: true } : { initial: 2 });
    const x = instantiate(module, memory);
    const u8 = new Uint8Array(memory.buffer);
    const K = 512;
    const N = 4;
    const w = 65536;
    const act = w + (N * K) / 4;
    const sums = act + K;
    const out = sums + 64;
    const a16 = out + 64;
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < (N * K) / 4; i++) {
      let b = 0;
      for (let j = 0; j < 4; j++) b |= (rnd() % 3) << (2 * j);
      u8[w + i] = b;
    }
    for (let k = 0; k < K; k++) u8[act + k] = k < 4 ? 0x80 : rnd(); // include −128, the corner a wrong lowering misses
    x.ternary_prepare(act, a16, sums, act, K, K, 1, 1, 0);
    x.ternary_acc(out, w, act, a16, sums, K, 1, N, 1, 0, 0, 0, N);
    x.ternary_acc(out + 4 * N, w, act, a16, sums, K, 1, N, 1, 1, 0, 0, N);
    const r = new Int32Array(memory.buffer, out, 2 * N);
    for (let n = 0; n < N; n++) if (r[n] !== r[N + n]) return false;
    return true;
  } catch {
    return false;
  }
}

export function threadsAvailable(): { ok: boolean; reason: string } {
  if (typeof SharedArrayBuffer === 'undefined') return { ok: false, reason: 'SharedArrayBuffer is not defined' };
  if (!isNode) {
    if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true)
      return { ok: false, reason: 'the page is not cross-origin isolated (COOP/COEP headers)' };
    if (typeof Worker === 'undefined') return { ok: false, reason: 'Worker is not defined' };
  }
  return { ok: true, reason: '' };
}

/** Logical cores of this host (the default thread count). */
export async function hostCores(): Promise<number> {
  if (isNode) {
    const os = await import('node:os');
    return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  }
  return Math.max(1, (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1);
}
