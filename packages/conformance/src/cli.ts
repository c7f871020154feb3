/**
 * Node entry: `runConformanceCli(argv)` behind `pnpm conformance [--backend NAME]` and `trine conformance`.
 * Loads the reference plus the named backends (all known ones when none is named), runs the kit on each, prints
 * one report per backend and the backend × case table, and returns the exit code (non-zero on any failure).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TrineError, createReferenceBackend, type BackendFactory, type KernelBackend } from '@trine/core';
import { formatMatrix, formatReport, summaryLine } from './report.js';
import { runConformance } from './runner.js';
import type { CaseOutput, CaseResult, ConformanceMode, ConformanceReport } from './types.js';

export const KNOWN_BACKENDS = ['reference', 'cpu', 'wasm', 'webgpu'] as const;

const PACKAGE: Record<string, string> = {
  cpu: '@trine/kernels-cpu',
  wasm: '@trine/kernels-wasm',
  webgpu: '@trine/kernels-webgpu',
};

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Import a backend package (apps/cli passes its own `import`, which resolves from its dependencies). */
  importBackend?(specifier: string): Promise<Record<string, unknown>>;
}

const defaultIo: CliIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

const USAGE = `usage: trine conformance [--backend NAME[,NAME…]] [--filter TEXT] [--mode test|perf|support] [--quick] [--json] [--threads N]
  --backend  reference, cpu, wasm, webgpu (repeatable); default: every backend this host can load
  --filter   run cases whose name contains any comma-separated part (e.g. rope,attention/f16)
  --mode     test (default): compare with the reference; perf: time each case; support: list unsupported variants
  --quick    skip the large (real 2B4T shape) cases
  --json     print the reports as JSON instead of tables`;

interface CliArgs {
  backends: string[];
  filter?: string;
  mode: ConformanceMode;
  quick: boolean;
  json: boolean;
  threads?: number;
}

function parseArgs(argv: readonly string[]): CliArgs | string {
  const args: CliArgs = { backends: [], mode: 'test', quick: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--backend':
      case '-b': {
        const v = value();
        if (!v) return '--backend needs a name';
        for (const name of v.split(',')) {
          if (!(KNOWN_BACKENDS as readonly string[]).includes(name)) return `--backend: unknown backend '${name}' (known: ${KNOWN_BACKENDS.join(', ')})`;
          args.backends.push(name);
        }
        break;
      }
      case '--filter': {
        const v = value();
        if (v === undefined) return '--filter needs a value';
        args.filter = v;
        break;
      }
      case '--mode': {
        const v = value();
        if (v !== 'test' && v !== 'perf' && v !== 'support') return `--mode must be test, perf or support, got '${v}'`;
        args.mode = v;
        break;
      }
      case '--threads': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 1024) return '--threads must be an integer in [1, 1024]';
        args.threads = n;
        break;
      }
      case '--quick':
        args.quick = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--help':
      case '-h':
        return '';
      default:
        return `unknown argument '${a}'`;
    }
  }
  return args;
}

function isFactory(x: unknown): x is BackendFactory {
  return typeof x === 'object' && x !== null && typeof (x as BackendFactory).create === 'function' && typeof (x as BackendFactory).name === 'string';
}

/** Import a backend package: from here first, then from the working directory (pnpm keeps packages unhoisted). */
async function importFrom(specifier: string, io: CliIo): Promise<Record<string, unknown>> {
  if (io.importBackend) return io.importBackend(specifier);
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (first) {
    try {
      const resolved = createRequire(join(process.cwd(), 'package.json')).resolve(specifier);
      return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
    } catch {
      throw first;
    }
  }
}

/** The backend's factory: `<name>BackendFactory`, else any exported factory with that name. */
export async function loadBackend(name: string, io: CliIo = defaultIo, threads?: number): Promise<KernelBackend> {
  if (name === 'reference') return createReferenceBackend();
  const spec = PACKAGE[name];
  if (!spec) throw new TrineError('BACKEND_UNAVAILABLE', `unknown backend '${name}'`, { field: 'backend' });
  let mod: Record<string, unknown>;
  try {
    mod = await importFrom(spec, io);
  } catch (e) {
    throw new TrineError('BACKEND_UNAVAILABLE', `${name}: cannot load ${spec} (${e instanceof Error ? e.message : String(e)})`, {
      field: 'backend',
      cause: e,
    });
  }
  const factory = [mod[`${name}BackendFactory`], ...Object.values(mod)].find((x) => isFactory(x) && x.name === name);
  if (!isFactory(factory)) throw new TrineError('BACKEND_UNAVAILABLE', `${name}: ${spec} exports no ${name}BackendFactory`, { field: 'backend' });
  return factory.create(threads ? { threads } : {});
}

export async function runConformanceCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    if (parsed) io.err(`trine conformance: ${parsed}`);
    (parsed ? io.err : io.out)(USAGE);
    return parsed ? 2 : 0;
  }
  const explicit = parsed.backends.length > 0;
  const names = explicit ? ['reference', ...parsed.backends.filter((b) => b !== 'reference')] : [...KNOWN_BACKENDS];
  const reports: ConformanceReport[] = [];
  // The reference computes each case once for all backends.
  const expectedCache = new Map<string, CaseOutput[]>();
  let failed = false;
  for (const name of names) {
    let backend: KernelBackend;
    try {
      backend = await loadBackend(name, io, parsed.threads);
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
