/**
 * What the manifests are checked against, read from the repository itself: the apps' sources (env variables,
 * ports, health service names), the telemetry package (metric names) and the infra files.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';

export const INFRA = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(INFRA);

export const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** Files under `dir` (repository-relative), skipping node_modules, whose name passes `keep`. */
export function walk(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (abs: string): void => {
    for (const name of readdirSync(abs)) {
      if (name === 'node_modules' || name === 'dist') continue;
      const p = join(abs, name);
      if (statSync(p).isDirectory()) visit(p);
      else if (keep(name)) out.push(relative(ROOT, p));
    }
  };
  visit(join(ROOT, dir));
  return out.sort();
}

export const loadYamlDocs = (text: string): unknown[] => yaml.loadAll(text).filter((d) => d !== null && d !== undefined);

const sourceFiles = (dirs: string[]): string[] =>
  dirs.flatMap((d) => walk(d, (n) => /\.(ts|mjs)$/.test(n) && !/\.test\.ts$/.test(n) && !n.endsWith('.d.ts')));

/** Environment variables the code under `dirs` reads: `env.X`, `env['X']`, `envInt(env, 'X', …)`. */
export function envVarsReadBy(dirs: string[]): Set<string> {
  const names = new Set<string>();
  const patterns = [/\benv(?:\.|\[['"])([A-Z][A-Z0-9_]+)/g, /\benvInt\([^,()]+,\s*'([A-Z][A-Z0-9_]+)'/g];
  for (const f of sourceFiles(dirs)) {
    const text = read(f);
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
  }
  return names;
}

const PACKAGE_SOURCES = readdirSync(join(ROOT, 'packages')).map((p) => `packages/${p}/src`);
/** What each image's process reads: its app, the worker (the gateway uses its config and the shared SDK) and the libraries. */
export const ENV_READ = {
  gateway: envVarsReadBy(['apps/gateway/src', 'apps/worker/src', ...PACKAGE_SOURCES]),
  worker: envVarsReadBy(['apps/worker/src', ...PACKAGE_SOURCES]),
};

/** The port of the default listen address in `file` matched by `re` (group 1). */
export function defaultPort(file: string, re: RegExp): number {
  const m = re.exec(read(file));
  if (!m) throw new Error(`no default port in ${file} (${re})`);
  return Number(m[1]);
}

/** Service names a grpc.health.v1 server in `file` registers in `new HealthImplementation({ … })`. */
export function healthServices(file: string): string[] {
  const text = read(file);
  const body = /new HealthImplementation\(\{([^}]*)\}\)/.exec(text)?.[1];
  if (body === undefined) throw new Error(`no HealthImplementation in ${file}`);
  const consts = new Map([...text.matchAll(/const (\w+) = '([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
  return [...body.matchAll(/(?:'([^']*)'|\[(\w+)\])\s*:/g)].map((m) => (m[1] !== undefined ? m[1] : consts.get(m[2]!)!));
}

/**
 * Prometheus series names the apps export, from the instrument definitions: `METRIC.x` of @trine/telemetry,
 * typed by the call that creates it (counters get `_total`, histograms `_bucket|_sum|_count`; no unit suffix).
 */
export function exportedSeries(metric: Record<string, string>): Map<string, string> {
  const kinds = new Map<string, string>();
  const creators: [RegExp, string][] = [
    [/create(?:Observable)?Counter\(METRIC\.(\w+)/g, 'counter'],
    [/observeCounts\(\s*\w+,\s*METRIC\.(\w+)/g, 'counter'],
    [/createHistogram\(METRIC\.(\w+)/g, 'histogram'],
    [/create(?:Observable)?(?:Gauge|UpDownCounter)\(METRIC\.(\w+)/g, 'gauge'],
  ];
  for (const f of sourceFiles(['apps/gateway/src', 'apps/worker/src', ...PACKAGE_SOURCES])) {
    const text = read(f);
    for (const [re, kind] of creators) for (const m of text.matchAll(re)) kinds.set(m[1]!, kind);
  }
  const series = new Map<string, string>();
  for (const [key, otelName] of Object.entries(metric)) {
    const kind = kinds.get(key);
    if (!kind) throw new Error(`METRIC.${key} (${otelName}) is created nowhere in the apps' sources`);
    const base = otelName.replace(/\./g, '_');
    if (kind === 'counter') series.set(`${base}_total`, otelName);
    else if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) series.set(base + s, otelName);
    else series.set(base, otelName);
  }
  return series;
}

const PROMQL_WORDS = new Set(
  ('sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left ' +
    'group_right and or unless bool offset rate irate increase delta idelta deriv histogram_quantile abs absent ' +
    'clamp_min clamp_max ceil floor round label_replace label_join vector scalar time sort sort_desc predict_linear ' +
    'avg_over_time max_over_time min_over_time sum_over_time count_over_time resets changes')
    .split(' '),
);

/** Series names referenced by a PromQL expression (label matchers, groupings, ranges and strings removed). */
export function promqlSeries(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const ids = [...stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]);
  return ids.filter((id) => !PROMQL_WORDS.has(id) && !/^\d/.test(id) && !/^e\d+$/.test(id));
}

/** kubectl, if installed: the kustomize tests need it (CI may not have it). */
export const kubectl: string | undefined = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return 'kubectl';
  } catch {
    return undefined;
  }
})();

export function kustomize(dir: string): unknown[] {
  return loadYamlDocs(execFileSync(kubectl!, ['kustomize', join(ROOT, dir)], { encoding: 'utf8', maxBuffer: 16 << 20 }));
}
