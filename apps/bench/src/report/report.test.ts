import { describe, expect, it } from 'vitest';
import { compareReports } from './compare.js';
import { renderMarkdown } from './markdown.js';
import { renderCharts } from './svg.js';
import { renderHtml } from './html.js';
import { REPORT_SCHEMA, type BenchReport, type BenchResult } from './schema.js';
import { llamaBenchResults, parseLlamaBenchJson } from '../external/llama-bench.js';
import { cpuIdentity, physicalCores } from '../host.js';

function result(over: Partial<BenchResult>): BenchResult {
  return { suite: 'decode', engine: 'trine', backend: 'cpu', shape: '2b4t', threads: 1, batch: 1, metric: 'tokens_per_s', value: 20, unit: 'tok/s', higherIsBetter: true, ...over };
}

function report(results: BenchResult[]): BenchReport {
  return {
    schema: REPORT_SCHEMA,
    run: { id: 'r1', startedAt: '2026-11-28T00:00:00Z', mode: 'quick', args: [] },
    host: { cpuModel: 'Test CPU', simd: ['avx2'], logicalCores: 2, physicalCores: 1, memoryBytes: 2 ** 34, node: 'v20', platform: 'linux-x64', commit: 'abc' },
    results,
  };
}

describe('baseline comparison', () => {
  it('flags a throughput drop beyond the threshold and ignores noise within it', () => {
    const base = report([result({ value: 20 }), result({ threads: 2, value: 30 })]);
    const cur = report([result({ value: 17 }), result({ threads: 2, value: 29 })]);
    const c = compareReports(cur, base, 0.1);
    expect(c.matched).toBe(2);
    expect(c.regressions.map((r) => r.key)).toEqual([expect.stringContaining('|t1|')]);
    expect(c.regressions[0]!.change).toBeCloseTo(-0.15, 6);
  });
  it('treats a latency increase as a regression (lower is better)', () => {
    const lat = { suite: 'serving' as const, metric: 'ttft_p50_ms', unit: 'ms', higherIsBetter: false };
    const c = compareReports(report([result({ ...lat, value: 13 })]), report([result({ ...lat, value: 10 })]), 0.2);
    expect(c.regressions).toHaveLength(1);
    const better = compareReports(report([result({ ...lat, value: 7 })]), report([result({ ...lat, value: 10 })]), 0.2);
    expect(better.regressions).toHaveLength(0);
    expect(better.improvements).toHaveLength(1);
  });
  it('lists baseline results the run did not produce', () => {
    const c = compareReports(report([]), report([result({})]), 0.1);
    expect(c.missing).toHaveLength(1);
  });
});

describe('rendering', () => {
  const r = report([result({ value: 21.5 }), result({ engine: 'bitnet.cpp', value: 15.2 }), result({ suite: 'kernel', metric: 'gbps', unit: 'GB/s', shape: '6912x2560', value: 24 })]);
  it('writes a markdown table per suite with every value', () => {
    const md = renderMarkdown(r);
    expect(md).toContain('## decode');
    expect(md).toContain('## kernel');
    expect(md).toContain('| bitnet.cpp | cpu | 2b4t | 1 | 1 |  | tokens_per_s | 15.20 | tok/s |');
  });
  it('draws one chart per suite and metric with bars proportional to the values', () => {
    const charts = renderCharts(r);
    expect(charts.map((c) => c.title)).toEqual(['decode — tokens_per_s', 'kernel — gbps']);
    const widths = [...charts[0]!.svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0]! / widths[1]!).toBeCloseTo(21.5 / 15.2, 2);
    const html = renderHtml(r, charts);
    expect(html).toContain('<svg');
    expect(html).toContain('Test CPU');
  });
  it('escapes text in charts', () => {
    const charts = renderCharts(report([result({ shape: '<script>' })]));
    expect(charts[0]!.svg).not.toContain('<script>');
  });
});

describe('llama-bench JSON', () => {
  const sample = `build: 1f86f058 (3955)\n[\n{"build_commit":"1f86f058","n_prompt":128,"n_gen":0,"n_threads":2,"avg_ts":75.1,"stddev_ts":0.4},\n{"build_commit":"1f86f058","n_prompt":0,"n_gen":64,"n_threads":2,"avg_ts":23.8,"stddev_ts":0.1}\n]\n`;
  it('parses rows after log lines and maps pp/tg to prefill/decode', () => {
    const rows = parseLlamaBenchJson(sample);
    const res = llamaBenchResults('bitnet.cpp', '2b4t', rows);
    expect(res.map((x) => [x.suite, x.threads, x.value])).toEqual([['prefill', 2, 75.1], ['decode', 2, 23.8]]);
  });
  it('rejects output without the fields it needs', () => {
    expect(() => parseLlamaBenchJson('[{"n_prompt":1}]')).toThrow(/n_gen/);
    expect(() => parseLlamaBenchJson('no json')).toThrow(/no JSON/);
  });
});

describe('host facts', () => {
  it('counts physical cores from cpuinfo', () => {
    const info = 'processor: 0\nphysical id: 0\ncore id: 0\n\nprocessor: 1\nphysical id: 0\ncore id: 0\n\nprocessor: 2\nphysical id: 0\ncore id: 1\n';
    expect(physicalCores(info)).toBe(2);
  });
});

describe('naming the CPU', () => {
  const cpuinfo = (vendor: string, family: number, model: number, name: string) =>
    `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: ${model}\nmodel name\t: ${name}\nstepping\t: 1\nflags\t\t: avx2\n`;
  it('reads vendor, family, model and stepping, and names the microarchitecture they place', () => {
    expect(cpuIdentity(cpuinfo('AuthenticAMD', 26, 2, 'AMD EPYC'))).toEqual({ vendor: 'AuthenticAMD', family: 26, model: 2, stepping: 1, microarchitecture: 'Zen 5' });
    expect(cpuIdentity(cpuinfo('AuthenticAMD', 25, 17, 'AMD EPYC 9454'))?.microarchitecture).toBe('Zen 4');
    expect(cpuIdentity(cpuinfo('AuthenticAMD', 25, 1, 'AMD EPYC 7763'))?.microarchitecture).toBe('Zen 3');
    expect(cpuIdentity(cpuinfo('GenuineIntel', 6, 207, 'INTEL(R) XEON(R) PLATINUM 8581C'))?.microarchitecture).toBe('Emerald Rapids');
    expect(cpuIdentity(cpuinfo('GenuineIntel', 6, 1, 'Old'))).toEqual({ vendor: 'GenuineIntel', family: 6, model: 1, stepping: 1 });
    expect(cpuIdentity('Features\t: asimd\n')).toBeUndefined();
  });
  it('puts the identity on the Host line and gives each op its share of the read bandwidth', () => {
    const k = { suite: 'kernel' as const, shape: '6912x2560', variant: 'gemv', unit: 'GB/s' };
    const r: BenchReport = {
      ...report([result({ ...k, metric: 'gbps', value: 24 }), result({ ...k, metric: 'roofline_pct', unit: '%', value: 70.6, note: 'of 34.0 GB/s (probe)' })]),
      host: { ...report([]).host, cpuModel: 'AMD EPYC', cpu: { vendor: 'AuthenticAMD', family: 26, model: 2, stepping: 1, microarchitecture: 'Zen 5' } },
    };
    const md = renderMarkdown(r);
    expect(md).toContain('Host: AMD EPYC (AuthenticAMD family 26 model 2 stepping 1, Zen 5), 1 physical');
    expect(md).toContain('| gemv | 6912x2560 | cpu | 1 | 1 | 24.00 | 70.60 % of 34.0 GB/s (probe) |');
  });
});
