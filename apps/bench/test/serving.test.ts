/**
 * The serving suite for real: the standalone gateway (gRPC over loopback, engine thread) and the in-process Engine
 * on the tiny bench model, at concurrency 1 and 2. Timings vary and are never asserted; the keys and their sanity are.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs, type BenchOptions } from '../src/options.js';
import { runBench } from '../src/run.js';
import { resultKey, type BenchReport } from '../src/report/schema.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'trine-bench-serving-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('serving suite', () => {
  it('measures TTFT and latency percentiles through the gateway and in-process', async () => {
    const opts = parseArgs(['--quick', '--shapes', 'tiny', '--backends', 'reference', '--threads', '1', '--no-kernels', '--concurrency', '1,2',
      '--decode-tokens', '4', '--prefill-tokens', '8', '--cache-dir', path.join(tmp, 'cache'), '--out', tmp, '--run-id', 'serving']) as BenchOptions;
    await runBench(opts, () => {});
    const report = JSON.parse(readFileSync(path.join(tmp, 'serving', 'report.json'), 'utf8')) as BenchReport;
    expect(report.skipped?.filter((s) => s.what.startsWith('serving'))).toEqual([]);
    const keys = new Set(report.results.map(resultKey));
    for (const variant of ['gateway', 'in-process'])
      for (const c of [1, 2])
        for (const m of ['ttft_p50_ms', 'ttft_p99_ms', 'latency_p50_ms', 'latency_p95_ms', 'throughput_tokens_per_s'])
          expect(keys, `${variant} c${c} ${m}`).toContain(`serving|trine|reference|${variant}|tiny|t1|b${c}|c|${m}`);
    const get = (variant: string, c: number, m: string) => report.results.find((r) => resultKey(r) === `serving|trine|reference|${variant}|tiny|t1|b${c}|c|${m}`)!.value;
    for (const variant of ['gateway', 'in-process']) {
      expect(get(variant, 2, 'ttft_p50_ms')).toBeLessThanOrEqual(get(variant, 2, 'latency_p50_ms'));
      expect(get(variant, 1, 'throughput_tokens_per_s')).toBeGreaterThan(0);
    }
  }, 240_000);
});
