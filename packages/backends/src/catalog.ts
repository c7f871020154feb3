/**
 * The backends Trine knows, each with the package that provides it, the factory it exports, its priority and how it
 * loads. This is the one list: the CLI, the bench, the worker, the standalone gateway and `trine conformance` take
 * their backend names and factories from here. A package that is absent or fails to import is "unavailable" with
 * its reason, never a crash.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { referenceBackendFactory, type BackendFactory, type BackendOptions, type KernelBackend } from '@trine/core';

export interface CatalogEntry {
  readonly name: string;
  /** The package that provides it (the reference backend is core's own). */
  readonly package: string;
  /** The export holding its `BackendFactory`. */
  readonly exportName: string;
  /** Higher is preferred when measuring is not possible (fallback order). */
  readonly priority: number;
  /** Whether a thread count means anything to it (the reference backend is single-threaded JS). */
  readonly threaded: boolean;
}

export const CATALOG = [
  { name: 'reference', package: '@trine/core', exportName: 'referenceBackendFactory', priority: 0, threaded: false },
  { name: 'cpu', package: '@trine/kernels-cpu', exportName: 'cpuBackendFactory', priority: 20, threaded: true },
  { name: 'wasm', package: '@trine/kernels-wasm', exportName: 'wasmBackendFactory', priority: 10, threaded: true },
  { name: 'webgpu', package: '@trine/kernels-webgpu', exportName: 'webgpuBackendFactory', priority: 30, threaded: true },
] as const satisfies readonly CatalogEntry[];

export type BackendName = (typeof CATALOG)[number]['name'];

/** Every backend name, in catalog order (the reference first: it is the oracle of a measurement). */
export const BACKEND_NAMES: readonly BackendName[] = CATALOG.map((e) => e.name);

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

export function catalogEntry(name: BackendName): CatalogEntry {
  return CATALOG.find((e) => e.name === name)!;
}

/** A backend of the catalog as this install has it: its factory, or why there is none. */
export type LoadedBackend =
  | { readonly name: BackendName; readonly factory: BackendFactory; readonly unavailable?: undefined }
  | { readonly name: BackendName; readonly factory?: undefined; readonly unavailable: string };

export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

function isFactory(x: unknown): x is BackendFactory {
  if (typeof x !== 'object' || x === null) return false;
  const f = x as Partial<BackendFactory>;
  return typeof f.name === 'string' && typeof f.create === 'function';
}

/**
 * How a package is imported: by default Node's `import()` from this package (whose optional dependencies are the
 * kernels packages); `trine conformance` tests pass their own.
 */
export type ImportPackage = (specifier: string) => Promise<Record<string, unknown>>;

const importPackage: ImportPackage = (specifier) => import(/* @vite-ignore */ specifier) as Promise<Record<string, unknown>>;

/** The factory of one backend, or the reason this install has none. */
export async function loadBackend(name: BackendName, load: ImportPackage = importPackage): Promise<LoadedBackend> {
  const entry = catalogEntry(name);
  if (name === 'reference') return { name, factory: referenceBackendFactory };
  let mod: Record<string, unknown>;
  try {
    mod = await load(entry.package);
  } catch (e) {
    return { name, unavailable: `${entry.package} did not load: ${firstLine(e)}` };
  }
  const factory = mod[entry.exportName];
  return isFactory(factory) && factory.name === name
    ? { name, factory }
    : { name, unavailable: `${entry.package} exports no ${entry.exportName}` };
}

/** Every backend of the catalog (or only `names`), loaded, in catalog order. */
export async function loadCatalog(names: readonly BackendName[] = BACKEND_NAMES, load?: ImportPackage): Promise<LoadedBackend[]> {
  const out: LoadedBackend[] = [];
  for (const e of CATALOG) if (names.includes(e.name)) out.push(await loadBackend(e.name, load));
  return out;
}

/** Create a backend, or say why it cannot run here (the bench reports such a backend as skipped). */
export async function createBackend(name: string, options: BackendOptions = {}): Promise<{ backend: KernelBackend } | { unavailable: string }> {
  if (!isBackendName(name)) return { unavailable: `unknown backend '${name}' (known: ${BACKEND_NAMES.join(', ')})` };
  const loaded = await loadBackend(name);
  if (loaded.factory === undefined) return { unavailable: loaded.unavailable };
  try {
    return { backend: await loaded.factory.create(options) };
  } catch (e) {
    return { unavailable: firstLine(e) };
  }
}

/** Whether a thread count means anything to this backend (the bench runs the others at one thread count only). */
export function threaded(name: string): boolean {
  return isBackendName(name) && catalogEntry(name).threaded;
}

/**
 * The installed version of each backend package ('absent' when it does not resolve), for the measurement cache key:
 * a new kernels release is measured again.
 */
export function packageVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = {};
  for (const e of CATALOG) {
    out[e.package] = 'absent';
    try {
      // The entry point, then up to the package's own package.json (exports maps do not export ./package.json).
      let dir = dirname(require.resolve(e.package));
      for (let up = 0; up < 4; up++, dir = dirname(dir)) {
        try {
          const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
          if (pkg.name === e.package) {
            out[e.package] = pkg.version ?? 'unknown';
            break;
          }
        } catch {
          // No package.json at this level.
        }
      }
    } catch {
      // Not installed.
    }
  }
  return out;
}
