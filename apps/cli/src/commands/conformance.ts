import { TrineError } from '@trine/core';

/** What `@trine/conformance/cli` provides (typed here so the CLI's typecheck never needs that package's build). */
interface ConformanceCli {
  runConformanceCli(
    argv: readonly string[],
    io: { out(line: string): void; err(line: string): void; importBackend?(specifier: string): Promise<Record<string, unknown>> },
  ): Promise<number>;
}

const CONFORMANCE_CLI = '@trine/conformance/cli';

/**
 * The conformance kit owns the suite, its flags (--backend, --filter, --mode, --quick, --json, --threads) and its
 * report; this command hands it the arguments, and backend packages are imported from the CLI's own dependencies.
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
    importBackend: (specifier) => import(specifier) as Promise<Record<string, unknown>>,
  });
}
