import { TrineError } from '@trine/core';

/**
 * The conformance kit owns the suite, its flags (--backend, --filter, --mode, --quick, --json, --threads) and its
 * report; this command hands it the arguments, and backend packages are imported from the CLI's own dependencies.
 */
export async function runConformance(argv: string[]): Promise<number> {
  let mod: typeof import('@trine/conformance/cli');
  try {
    mod = await import('@trine/conformance/cli');
  } catch (e) {
    throw new TrineError('UNSUPPORTED', 'the conformance kit (@trine/conformance) is not installed', { cause: e });
  }
  return mod.runConformanceCli(argv, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    importBackend: (specifier) => import(specifier) as Promise<Record<string, unknown>>,
  });
}
