/**
 * @trine/kernels-cpu: the native SIMD backend (AVX-512 VNNI, AVX2, NEON dot-product, scalar), compiled from source
 * by `pnpm install`. `cpuBackendFactory` registers it (priority 20); `createCpuBackend` makes one directly.
 */
import { TrineError, type BackendFactory, type BackendOptions } from '@trine/core';
import { CpuBackend, type CpuBackendOptions } from './backend.js';
import { loadNative } from './native.js';
import { physicalCores } from './threads.js';

export { CpuBackend } from './backend.js';
export type { CpuBackendOptions } from './backend.js';
export type { CpuBatch, CpuHandles, CpuKvCache, CpuMatrix, CpuTensor, CpuTernary } from './handles.js';
export { loadNative, type HostInfo, type NativeAddon } from './native.js';
export { physicalCores } from './threads.js';
export { describeGemvChoice, type GemvChoice } from './tune.js';

const MAX_THREADS = 256;

// TRINE_THREADS is the apps' setting, parsed by @trine/backends and passed here as `threads`: a library reads no env.
function threadsFrom(options: CpuBackendOptions): number {
  const raw: unknown = options.threads;
  if (raw === undefined) return physicalCores();
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > MAX_THREADS) {
    throw new TrineError('INVALID_ARGUMENT', `threads must be an integer in [1, ${MAX_THREADS}], got ${String(raw)}`, { field: 'threads' });
  }
  return raw;
}

/** Create the CPU backend. Throws BACKEND_UNAVAILABLE when the addon is missing or the forced path cannot run here. */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  const addon = loadNative();
  const host = addon.hostInfo();
  const envVariant = process.env.TRINE_CPU_VARIANT;
  const variant = options.variant ?? (envVariant !== undefined && envVariant !== '' ? envVariant : host.best);
  const threads = threadsFrom(options);
  const envGemv = process.env.TRINE_CPU_GEMV;
  const gemv = options.gemv ?? (envGemv !== undefined && envGemv !== '' ? envGemv : undefined);
  return new CpuBackend(addon, variant, threads, {
    best: host.best,
    avx2: host.avx2,
    avx512vnni: host.avx512vnni,
    neonDot: host.neonDot,
    layout: `T16 (${host.tileRows}x${host.tileCols} weights / ${host.tileBytes} bytes)`,
  }, gemv);
}

export const cpuBackendFactory: BackendFactory = {
  name: 'cpu',
  priority: 20,
  async create(options?: BackendOptions) {
    return createCpuBackend(options ?? {});
  },
};
