import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES, createBackend, loadBackend, loadCatalog, packageVersions } from './catalog.js';

describe('the catalog', () => {
  it('names every backend once, the reference first', () => {
    expect(BACKEND_NAMES).toEqual(['reference', 'cpu', 'wasm', 'webgpu']);
  });

  it('imports each package by name and takes its factory export', async () => {
    const requested: string[] = [];
    const wasm = await loadBackend('wasm', async (spec) => {
      requested.push(spec);
      return { wasmBackendFactory: { name: 'wasm', priority: 10, create: () => Promise.reject(new Error('unused')) } };
    });
    expect(requested).toEqual(['@trine/kernels-wasm']);
    expect(wasm.factory?.name).toBe('wasm');
  });

  it('a package that is missing or exports no factory is unavailable with its reason, never a crash', async () => {
    const missing = await loadCatalog(['reference', 'webgpu'], () => Promise.reject(new Error("Cannot find package '@trine/kernels-webgpu'\n  at …")));
    expect(missing).toEqual([
      { name: 'reference', factory: expect.objectContaining({ name: 'reference' }) },
      { name: 'webgpu', unavailable: "@trine/kernels-webgpu did not load: Cannot find package '@trine/kernels-webgpu'" },
    ]);
    expect(await loadBackend('cpu', async () => ({ other: 1 }))).toEqual({ name: 'cpu', unavailable: '@trine/kernels-cpu exports no cpuBackendFactory' });
  });

  it('creates a real backend, and reports the installed package versions', async () => {
    const made = await createBackend('wasm', { threads: 1 });
    if ('unavailable' in made) throw new Error(made.unavailable);
    expect(made.backend.info.name).toBe('wasm');
    made.backend.destroy();
    expect(await createBackend('tpu')).toEqual({ unavailable: "unknown backend 'tpu' (known: reference, cpu, wasm, webgpu)" });
    expect(packageVersions()['@trine/kernels-wasm']).toMatch(/^\d+\.\d+\.\d+/);
  });
});
