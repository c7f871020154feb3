/**
 * Registers every backend this install has: the reference backend always, the optional packages when they import
 * and expose a factory. A package that is absent or fails to import is skipped (reported with --verbose).
 */
import { referenceBackendFactory, registerBackend, type BackendFactory } from '@trine/core';

export const OPTIONAL_BACKEND_PACKAGES = ['@trine/kernels-cpu', '@trine/kernels-wasm', '@trine/kernels-webgpu'] as const;

function isFactory(x: unknown): x is BackendFactory {
  if (typeof x !== 'object' || x === null) return false;
  const f = x as Partial<BackendFactory>;
  return typeof f.name === 'string' && typeof f.priority === 'number' && typeof f.create === 'function';
}

/** The factories a module exports (named or default exports, or a `factories` list). */
export function factoriesIn(mod: Record<string, unknown>): BackendFactory[] {
  const found = new Map<string, BackendFactory>();
  const consider = (x: unknown): void => {
    if (isFactory(x)) found.set(x.name, x);
    else if (Array.isArray(x)) x.forEach(consider);
  };
  for (const value of Object.values(mod)) consider(value);
  if (typeof mod.default === 'object' && mod.default !== null) {
    for (const value of Object.values(mod.default as Record<string, unknown>)) consider(value);
  }
  return [...found.values()];
}

let registered: Promise<string[]> | undefined;

/** Registers once per process; returns notes on packages that were skipped. */
export function registerInstalledBackends(): Promise<string[]> {
  registered ??= (async () => {
    registerBackend(referenceBackendFactory);
    const notes: string[] = [];
    for (const name of OPTIONAL_BACKEND_PACKAGES) {
      try {
        const mod = (await import(name)) as Record<string, unknown>;
        const factories = factoriesIn(mod);
        if (factories.length === 0) notes.push(`${name}: exports no backend factory`);
        for (const f of factories) registerBackend(f);
      } catch (e) {
        notes.push(`${name}: not available (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
      }
    }
    return notes;
  })();
  return registered;
}
