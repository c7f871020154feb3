/**
 * End to end: a real quick run (tiny shape, reference backend, child processes, real files), its report files and
 * result keys; the CLI's non-zero exit on a doctored baseline. Timings vary and are never asserted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs, type BenchOptions } from '../src/options.js';
import { runBench } from '../src/run.js';
import { resultKey, type BenchReport } from '../src/report/schema.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'trine-bench-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cache = path.join(tmp, 'cache');
const common = ['--quick', '--shapes', 'tiny', '--backends', 'reference', '--threads', '1', '--q8', '--batch', '1,2', '--cache-dir', cache, '--out', tmp];

let first: BenchReport | undefined;
/** bitnet.cpp side by side when this machine has a build (TRINE_BITNET_CPP or the lead's build under /opt). */
const BITNET = process.env.TRINE_BITNET_CPP ?? '/opt/bitnet-src/build/bin/llama-bench';
const withBitnet = existsSync(BITNET) ? ['--bitnet-cpp', BITNET] : [];

describe('pnpm bench --quick --shapes tiny --backends reference', () => {
  it('writes report.json, report.md, report.html, charts and recommendations with the expected result keys', async () => {
    const opts = parseArgs([...common, ...withBitnet, '--context', '8,600', '--run-id', 'first']) as BenchOptions;
    const outcome = await runBench(opts, () => {});
    expect(outcome.exitCode).toBe(0);
    const dir = path.join(tmp, 'first');
    for (const f of ['report.json', 'report.md', 'report.html', 'recommendations.json']) expect(existsSync(path.join(dir, f))).toBe(true);
    const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as BenchReport;
    first = report;
    expect(report.schema).toBe('trine-bench/1');
    expect(report.run).toMatchObject({ id: 'first', mode: 'quick' });
    const keys = new Set(report.results.map(resultKey));
    for (const k of [
      'decode|trine|reference||tiny|t1|b1|c8|tokens_per_s',
      'prefill|trine|reference||tiny|t1|b1|c128|tokens_per_s',
      'prefill|trine|reference||tiny|t1|b1|c128|ttft_ms',
      'load|trine|reference||tiny|t1|b1|c|load_ms',
      'load|trine|reference||tiny|t1|b1|c|peak_rss_mb',
      'decode|trine|reference|q8-lm-head|tiny|t1|b1|c8|tokens_per_s',
      'quality|trine|reference|q8-lm-head|tiny|t1|b1|c|q8_logit_nmse',
      'quality|trine|reference|q8-lm-head|tiny|t1|b1|c|q8_top1_agreement',
      'batched|trine|reference||tiny|t1|b2|c|aggregate_tokens_per_s',
      'batched|trine|reference||tiny|t1|b2|c|aggregate_vs_batch1',
      'kernel|trine|reference|gemv|256x256|t1|b1|c|gbps',
      'kernel|trine|reference|gemv|512x256|t1|b1|c|roofline_pct',
      'kernel|trine|reference|lm_head f16|lm_head 960x256|t1|b1|c|gops',
    ]) expect(keys, k).toContain(k);
    for (const r of report.results) expect(Number.isFinite(r.value) && r.value >= 0, resultKey(r)).toBe(true);
    // Read bandwidth: kernels-cpu's native probe when the addon loads, else the memcmp fallback; named either way.
    const bw = report.results.find((r) => r.metric === 'read_bandwidth');
    expect(['kernels-cpu-native', 'node-memcmp-fallback']).toContain(bw?.variant);
    expect(report.host.memoryBandwidthGBs?.['1']).toBe(bw!.value);
    const nmse = report.results.find((r) => r.metric === 'q8_logit_nmse')!;
    expect(nmse.value).toBeLessThan(0.01); // q8 logits stay close to f16 (a broken q8 head would not)
    // The tiny model's context is 512: decoding at depth 600 is reported as unavailable, the rest still runs.
    expect(report.skipped).toEqual([{ what: 'reference tiny 1t decode at context 600', reason: "600 + 64 tokens exceed the model's context of 512" }]);
    expect(report.results.some((r) => r.suite === 'serving')).toBe(false); // quick runs serve only with --serving

    if (withBitnet.length > 0) {
      expect(report.ratios?.map((x) => [x.suite, x.shape, x.threads, x.backend, x.variant ?? '', x.external])).toEqual([
        ['decode', 'tiny', 1, 'reference', '', 'bitnet.cpp'], ['decode', 'tiny', 1, 'reference', 'q8-lm-head', 'bitnet.cpp'], ['prefill', 'tiny', 1, 'reference', '', 'bitnet.cpp']]);
      for (const x of report.ratios!) expect(x.ratio).toBeCloseTo(x.trine / x.other, 9);
    }
    const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
    for (const s of ['## decode', '## prefill', '## kernel', '## batched', '## quality', '## Recommendations', '| trine | reference | tiny | 1 | 1 | 8 | tokens_per_s |']) expect(md).toContain(s);
    const charts = readdirSync(path.join(dir, 'charts'));
    expect(charts).toContain('decode-tokens-per-s.svg');
    expect(charts).toContain('kernel-roofline-pct.svg');
    expect(readFileSync(path.join(dir, 'charts', 'decode-tokens-per-s.svg'), 'utf8')).toMatch(/^<svg [^>]*>.*<rect /s);
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('<svg');
    const recs = JSON.parse(readFileSync(path.join(dir, 'recommendations.json'), 'utf8'));
    expect(recs.shapes[0]).toMatchObject({ shape: 'tiny', decode: { backend: 'reference', threads: 1 } });
    expect(recs.shapes[0].batch.size).toBeGreaterThanOrEqual(1);
  }, 240_000);

  it('exits non-zero and names the regression when a doctored baseline is far faster', () => {
    expect(first).toBeDefined();
    // The baseline claims decode was 100× faster: this run must regress beyond any threshold.
    const doctored: BenchReport = { ...first!, results: first!.results.map((r) => (r.suite === 'decode' && r.metric === 'tokens_per_s' && !r.variant ? { ...r, value: r.value * 100 } : r)) };
    const baseline = path.join(tmp, 'baseline.json');
    writeFileSync(baseline, JSON.stringify(doctored));
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, main, ...common, '--no-kernels', '--no-batched', '--run-id', 'second', '--baseline', baseline, '--threshold', '0.5'], {
      encoding: 'utf8', timeout: 200_000, env: { ...process.env, TSX_TSCONFIG_PATH: fileURLToPath(new URL('../tsconfig.sources.json', import.meta.url)) },
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/REGRESSION decode\|trine\|reference\|\|tiny\|t1\|b1\|c8\|tokens_per_s/);
    expect(readFileSync(path.join(tmp, 'second', 'report.md'), 'utf8')).toContain('**REGRESSION**');
  }, 240_000);

  it('rejects bad flags with the flag named, before running anything', () => {
    expect(() => parseArgs(['--threads', '0'])).toThrow(/--threads: '0' is not an integer/);
    expect(() => parseArgs(['--shapes', '2b4t,13b'])).toThrow(/--shapes: unknown '13b'/);
    expect(() => parseArgs(['--backends', 'cuda'])).toThrow(/--backends: unknown 'cuda'/);
    expect(() => parseArgs(['--threshold', 'x'])).toThrow(/--threshold/);
    expect(() => parseArgs(['--frobnicate'])).toThrow(/unknown flag '--frobnicate'/);
    expect(() => parseArgs(['--out'])).toThrow(/--out: needs a value/);
    expect(parseArgs(['--quick'])).toMatchObject({ quick: true, shapes: ['2b4t'], threads: [1, 2], backends: [] });
  });
});
