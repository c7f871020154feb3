import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC } from '@trine/telemetry';
import { ENV_READ, ROOT, exportedSeries, loadYamlDocs, promqlSeries, read, walk } from './support';

// Series the apps export, derived from the instrument definitions (docs/observability.md is the prose twin).
const SERIES = exportedSeries(METRIC);

const unknownSeries = (expr: string): string[] => promqlSeries(expr).filter((s) => !SERIES.has(s));

describe('metric names', () => {
  it('derive from the code and include the ones the rules rely on', () => {
    for (const s of ['trine_queue_jobs', 'trine_gateway_tokens_total', 'gen_ai_server_time_to_first_token_bucket', 'trine_process_memory_rss'])
      expect(SERIES.has(s), s).toBe(true);
    // The PromQL scanner finds names and skips functions, groupings and matchers.
    expect(promqlSeries('sum by (le) (rate(foo_bucket{a="b"}[5m])) / on() max(bar)')).toEqual(['foo_bucket', 'bar']);
    expect(unknownSeries('rate(trine_gateway_tokenz_total[5m])')).toEqual(['trine_gateway_tokenz_total']);
  });

  it('every series named in infra/README.md is exported', () => {
    const named = [...read('infra/README.md').matchAll(/`((?:trine|gen_ai)_[a-z0-9_]+)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(10);
    for (const n of named) expect(SERIES.has(n) || SERIES.has(`${n}_bucket`), n).toBe(true);
  });
});

describe('Prometheus alert rules', () => {
  const [doc] = loadYamlDocs(read('infra/observability/alerts.yml')) as [{ groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[] }];
  const rules = doc.groups.flatMap((g) => g.rules);

  it('cover memory, CPU, token throughput, errors, latency and backlog growth', () => {
    const byAlert = new Map(rules.map((r) => [r.alert, r.expr]));
    const uses = (metric: string) => [...byAlert].filter(([, e]) => promqlSeries(e).includes(metric)).map(([a]) => a);
    expect(uses('trine_process_memory_rss').length).toBeGreaterThan(0);
    expect(uses('trine_process_cpu_time_total').length).toBeGreaterThan(0);
    expect(uses('trine_gateway_tokens_total').length).toBeGreaterThan(0);
    expect(uses('trine_gateway_rpc_requests_total').length).toBeGreaterThan(0);
    expect(uses('gen_ai_server_time_to_first_token_bucket').length + uses('gen_ai_server_request_duration_bucket').length).toBeGreaterThan(0);
    expect(uses('trine_queue_jobs').length).toBeGreaterThan(0);
  });

  it('every expression references only exported series, and every rule is well formed', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(unknownSeries(r.expr), r.alert).toEqual([]);
      expect(promqlSeries(r.expr).length, r.alert).toBeGreaterThan(0);
      expect(['warning', 'critical']).toContain(r.labels.severity);
      // Balanced brackets: a cheap syntax check without a PromQL parser.
      for (const [o, c] of [['(', ')'], ['{', '}'], ['[', ']']] as const) expect(r.expr.split(o).length, `${r.alert} ${o}${c}`).toBe(r.expr.split(c).length);
    }
  });
});

describe('Grafana dashboard', () => {
  const dash = JSON.parse(read('infra/observability/grafana/dashboards/trine.json')) as {
    uid: string;
    panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
  };
  const [ds] = loadYamlDocs(read('infra/observability/grafana/datasources.yml')) as [{ datasources: { uid: string; type: string }[] }];

  it('parses, uses the provisioned datasource, and queries only exported series', () => {
    expect(dash.uid).toBe('trine-serving');
    const prom = ds.datasources.find((d) => d.type === 'prometheus')!;
    const used = new Set<string>();
    for (const p of dash.panels) {
      expect(p.datasource.uid, p.title).toBe(prom.uid);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(unknownSeries(t.expr), p.title).toEqual([]);
        for (const s of promqlSeries(t.expr)) used.add(SERIES.get(s)!);
      }
    }
    // Every metric the apps export appears on the dashboard except the heap gauges (RSS is the one to watch).
    const missing: string[] = Object.values(METRIC).filter((m) => !used.has(m));
    expect(missing.sort()).toEqual([METRIC.memoryHeapTotal, METRIC.memoryHeapUsed, METRIC.requests, METRIC.requestsReceived].sort());
  });
});

describe('compose cluster', () => {
  const [compose] = loadYamlDocs(read('infra/compose/docker-compose.yml')) as [{
    services: Record<string, { command?: string[]; environment?: Record<string, string>; build?: { dockerfile: string }; deploy?: { replicas: number }; volumes?: string[] }>;
  }];
  const s = compose.services;
  /** A service's environment with the YAML merge key (`<<: *trine-env`) applied, as compose does. */
  const environment = (name: string): Record<string, string> => {
    const { '<<': merged, ...own } = s[name]!.environment as Record<string, unknown>;
    const shared = (Array.isArray(merged) ? merged : [merged ?? {}]) as Record<string, string>[];
    return Object.assign({}, ...shared, own) as Record<string, string>;
  };

  it('has Redis with AOF every second and noeviction, a gateway, 2+ workers and the observability stack', () => {
    const redis = s.redis!.command!.join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--appendfsync everysec');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(s.gateway!.build!.dockerfile).toBe('infra/docker/gateway.Dockerfile');
    expect(s.worker!.build!.dockerfile).toBe('infra/docker/worker.Dockerfile');
    expect(s.worker!.deploy!.replicas).toBeGreaterThanOrEqual(2);
    for (const name of ['otel-collector', 'prometheus', 'grafana', 'jaeger']) expect(s[name], name).toBeDefined();
  });

  it('sets only environment variables the apps read', () => {
    for (const app of ['gateway', 'worker'] as const) {
      const env = environment(app);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      for (const name of Object.keys(env)) expect(ENV_READ[app], `${app} ${name}`).toContain(name);
    }
  });

  it('mounts files that exist, and every YAML file under infra/ parses', () => {
    for (const v of Object.values(s).flatMap((x) => x.volumes ?? []).filter((v) => v.startsWith('.'))) {
      const path = `infra/compose/${v.split(':')[0]}`.replace(/compose\/\.\.\//, '').replace(/\/\.\//, '/');
      expect(existsSync(join(ROOT, path)), path).toBe(true);
    }
    const files = walk('infra', (n) => /\.ya?ml$/.test(n));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(loadYamlDocs(read(f)).length, f).toBeGreaterThan(0);
  });

  it('Prometheus scrapes the metrics ports the apps default to and loads the rules', () => {
    const [prom] = loadYamlDocs(read('infra/observability/prometheus.yml')) as [{ rule_files: string[]; scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { port: number }[] }[] }];
    expect(prom.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    const gw = prom.scrape_configs.find((c) => c.job_name === 'trine-gateway')!.static_configs![0]!.targets[0]!;
    expect(gw).toBe(`gateway:${environment('gateway').TRINE_METRICS_LISTEN!.split(':')[1]}`);
    expect(prom.scrape_configs.find((c) => c.job_name === 'trine-worker')!.dns_sd_configs![0]!.port).toBe(Number(environment('worker').TRINE_METRICS_LISTEN!.split(':')[1]));
  });
});
