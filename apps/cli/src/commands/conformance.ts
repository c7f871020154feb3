import { TrineError, type KernelBackend } from '@trine/core';
import { BACKEND_NAMES, createBackend, isBackendName } from '@trine/backends';

/** What `@trine/conformance/cli` provides (typed here so the CLI's typecheck never needs that package's build). */
interface ConformanceCli {
  runConformanceCli(
    argv: readonly string[],
    io: {
      out(line: string): void;
      err(line: string): void;
      backends?: { readonly names: readonly string[]; create(name: string, threads?: number): Promise<KernelBackend> };
    },
  ): Promise<number>;
}

const CONFORMANCE_CLI = '@trine/conformance/cli';

/** A backend of the catalog for the kit (which names no backend itself: the kernels packages depend on it). */
async function create(name: string, threads?: number): Promise<KernelBackend> {
  if (!isBackendName(name)) throw new TrineError('BACKEND_UNAVAILABLE', `unknown backend '${name}'`, { field: 'backend' });
  const made = await createBackend(name, threads !== undefined ? { threads } : {});
  if ('unavailable' in made) throw new TrineError('BACKEND_UNAVAILABLE', `${name}: ${made.unavailable}`, { field: 'backend' });
  return made.backend;
}

/**
 * The conformance kit owns the suite, its flags (--backend, --filter, --mode, --quick, --json, --threads) and its
 * report; this command hands it the arguments and the backend catalog (@trine/backends).
 */
export async function runConformance(argv: string[]): Promise<number> {
  let mod: ConformanceCli;
  try {
    mod = (await import(CONFORMANCE_CLI)) as ConformanceCli;
  } catch (e) {
    throw new TrineError('UNSUPPORTED', 'the conformance kit (@trine/conformance) is not installed', { cause: e });
  }
  return mod.runConformanceCli(argv, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    backends: { names: BACKEND_NAMES, create },
  });
}
