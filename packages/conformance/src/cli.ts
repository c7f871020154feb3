/**
 * Node entry: `runConformanceCli(argv)` behind `pnpm conformance [--backend NAME]` and `trine conformance`.
 * Loads the reference plus the named backends (all known ones when none is named), runs the kit on each, prints
 * one report per backend and the backend × case table, and returns the exit code (non-zero on any failure).
 */
import { flagHelp, parseArgs, type FlagTable, type Parsed } from '@trine/args';
import { TrineError, createReferenceBackend, type KernelBackend } from '@trine/core';
import { formatMatrix, formatReport, summaryLine } from './report.js';
import { runConformance } from './runner.js';
import type { CaseOutput, CaseResult, ConformanceMode, ConformanceReport } from './types.js';

/**
 * The backends the kit can run. The kit names none itself (the kernels packages depend on it): apps/cli passes
 * @trine/backends' catalog; without one the kit runs the reference backend only.
 */
export interface BackendSource {
  /** Every backend name, the reference first. */
  readonly names: readonly string[];
  /** Create one; throws (BACKEND_UNAVAILABLE) naming why this host cannot run it. */
  create(name: string, threads?: number): Promise<KernelBackend>;
}

const referenceOnly: BackendSource = {
  names: ['reference'],
  create: async () => createReferenceBackend(),
};

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  backends?: BackendSource;
}

const defaultIo: CliIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

/** The kit's flags; `--backend` takes the names the kit was given. */
const flagTable = (names: readonly string[]): FlagTable => ({
  backend: {
    kind: 'string', short: 'b', list: true, repeatable: true, oneOf: names, noun: 'backend', value: 'NAME',
    help: `${names.join(', ')}; default: every backend this host can load`,
  },
  filter: { kind: 'string', value: 'TEXT', help: 'run cases whose name contains any comma-separated part (e.g. rope,attention/f16)' },
  mode: {
    kind: 'string', oneOf: ['test', 'perf', 'support'], default: 'test', value: 'MODE',
    help: 'test: compare with the reference; perf: time each case; support: list unsupported variants',
  },
  quick: { kind: 'boolean', help: 'skip the large (real 2B4T shape) cases' },
  json: { kind: 'boolean', help: 'print the reports as JSON instead of tables' },
  threads: { kind: 'int', short: 't', min: 1, max: 1024, help: 'threads of the backends that take a thread count' },
});

const usage = (names: readonly string[]): string => `usage: trine conformance [options]\n${flagHelp(flagTable(names))}`;

interface CliArgs {
  backends: string[];
  filter?: string;
  mode: ConformanceMode;
  quick: boolean;
  json: boolean;
  threads?: number;
}

/** The arguments, or what is wrong with them ('' for --help). */
function cliArgs(argv: readonly string[], known: readonly string[]): CliArgs | string {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv, flagTable(known));
  } catch (e) {
    if (TrineError.is(e, 'INVALID_ARGUMENT')) return e.message;
    throw e;
  }
  if (parsed.help) return '';
  if (parsed.positionals.length > 0) return `unexpected argument '${parsed.positionals[0]}'`;
  const f = parsed.flags;
  return {
    backends: (f.backend as string[] | undefined) ?? [],
    ...(f.filter !== undefined ? { filter: f.filter as string } : {}),
    mode: f.mode as ConformanceMode,
    quick: f.quick === true,
    json: f.json === true,
    ...(f.threads !== undefined ? { threads: f.threads as number } : {}),
  };
}

export async function runConformanceCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const source = io.backends ?? referenceOnly;
  const parsed = cliArgs(argv, source.names);
  if (typeof parsed === 'string') {
    if (parsed) io.err(`trine conformance: ${parsed}`);
    (parsed ? io.err : io.out)(usage(source.names));
    return parsed ? 2 : 0;
  }
  const explicit = parsed.backends.length > 0;
  const names = explicit ? ['reference', ...parsed.backends.filter((b) => b !== 'reference')] : [...source.names];
  const reports: ConformanceReport[] = [];
  // The reference computes each case once for all backends.
  const expectedCache = new Map<string, CaseOutput[]>();
  let failed = false;
  for (const name of names) {
    let backend: KernelBackend;
    try {
      backend = name === 'reference' ? createReferenceBackend() : await source.create(name, parsed.threads);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      // A backend asked for by name must load; one merely tried is reported and skipped.
      if (explicit) {
        io.err(`trine conformance: backend ${name} is unavailable: ${why}`);
        failed = true;
      } else io.out(`${name}: unavailable on this host (${why})`);
      continue;
    }
    try {
      const report = await runConformance(backend, {
        mode: parsed.mode,
        ...(parsed.filter !== undefined ? { filter: parsed.filter } : {}),
        large: !parsed.quick,
        expectedCache,
        onResult: parsed.json ? undefined : (r: CaseResult) => r.status === 'fail' && io.err(`${name}: FAIL ${r.name}: ${r.reason ?? ''}`),
      });
      reports.push(report);
      if (!report.ok) failed = true;
      if (!parsed.json) {
        io.out(formatReport(report));
        io.out('');
      }
    } finally {
      backend.destroy();
    }
  }
  if (parsed.json) io.out(JSON.stringify(reports, null, 2));
  else if (reports.length > 0) {
    io.out(formatMatrix(reports));
    for (const r of reports) io.out(summaryLine(r));
  }
  return failed ? 1 : 0;
}
