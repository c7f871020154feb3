/**
 * Backend factories, imported on demand: the reference backend always, the optional packages when they import.
 * A package that fails to import or to start is reported as "unavailable: <reason>", never a crash.
 */
import { referenceBackendFactory, type BackendFactory, type KernelBackend } from '@trine/core';

export const BACKEND_PACKAGES: Readonly<Record<string, string>> = {
  cpu: '@trine/kernels-cpu',
  wasm: '@trine/kernels-wasm',
  webgpu: '@trine/kernels-webgpu',
};
export const KNOWN_BACKENDS = ['reference', ...Object.keys(BACKEND_PACKAGES)] as const;

function isFactory(x: unknown): x is BackendFactory {
  if (typeof x !== 'object' || x === null) return false;
  const f = x as Partial<BackendFactory>;
  return typeof f.name === 'string' && typeof f.priority === 'number' && typeof f.create === 'function';
}

function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** The factory for a backend name, or the reason there is none. */
export async function backendFactory(name: string): Promise<{ factory: BackendFactory } | { unavailable: string }> {
  if (name === 'reference') return { factory: referenceBackendFactory };
  const pkg = BACKEND_PACKAGES[name];
  if (!pkg) return { unavailable: `unknown backend '${name}' (known: ${KNOWN_BACKENDS.join(', ')})` };
  try {
    const mod = (await import(pkg)) as Record<string, unknown>;
    const f = Object.values(mod).find((v) => isFactory(v) && v.name === name) as BackendFactory | undefined;
    return f ? { factory: f } : { unavailable: `${pkg} exports no '${name}' backend factory` };
  } catch (e) {
    return { unavailable: `${pkg} did not import: ${reason(e)}` };
  }
}

/** Create a backend with a thread count, or say why it cannot run here. */
export async function createBackend(name: string, threads: number): Promise<{ backend: KernelBackend } | { unavailable: string }> {
  const f = await backendFactory(name);
  if ('unavailable' in f) return f;
  try {
    return { backend: await f.factory.create({ threads }) };
  } catch (e) {
    return { unavailable: reason(e) };
  }
}

/** Whether a backend has its own threads (the reference backend is single-threaded JS: one thread count only). */
export function threaded(name: string): boolean {
  return name !== 'reference';
}
