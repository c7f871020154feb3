/**
 * The serving suite for real: the in-process Engine, the standalone gateway (gRPC over loopback, engine thread) and
 * gateway + worker processes over a real redis-server, on the tiny bench model, at concurrency 1 and 2. Timings
 * vary and are never asserted; the keys, their sanity and the queue-hop arithmetic are.
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
  it('measures TTFT, per-token and latency percentiles in-process, through the gateway and through the queue', async () => {
    const opts = parseArgs(['--quick', '--shapes', 'tiny', '--backends', 'reference', '--threads', '1', '--no-kernels', '--concurrency', '1,2',
      '--decode-tokens', '4', '--prefill-tokens', '8', '--cache-dir', path.join(tmp, 'cache'), '--out', tmp, '--run-id', 'serving']) as BenchOptions;
    await runBench(opts, () => {});
    const report = JSON.parse(readFileSync(path.join(tmp, 'serving', 'report.json'), 'utf8')) as BenchReport;
    expect(report.skipped?.filter((s) => s.what.startsWith('serving'))).toEqual([]);
    const keys = new Set(report.results.map(resultKey));
    const variants = ['gateway', 'in-process', 'distributed', 'gateway-http', 'distributed-http'];
    for (const variant of variants)
      for (const c of [1, 2])
        for (const m of ['ttft_p50_ms', 'ttft_p99_ms', 'per_token_p50_ms', 'per_token_p99_ms', 'latency_p50_ms', 'latency_p95_ms', 'throughput_tokens_per_s'])
          expect(keys, `${variant} c${c} ${m}`).toContain(`serving|trine|reference|${variant}|tiny|t1|b${c}|c|${m}`);
    const get = (variant: string, c: number, m: string) => report.results.find((r) => resultKey(r) === `serving|trine|reference|${variant}|tiny|t1|b${c}|c|${m}`)!.value;
    for (const variant of variants) {
      expect(get(variant, 2, 'ttft_p50_ms')).toBeLessThanOrEqual(get(variant, 2, 'latency_p50_ms'));
      expect(get(variant, 1, 'throughput_tokens_per_s')).toBeGreaterThan(0);
    }
    // What the queue hop adds is the distributed figure minus the other one, at each concurrency.
    for (const against of ['in-process', 'gateway'])
      for (const c of [1, 2])
        for (const m of ['ttft_p50', 'ttft_p99', 'per_token_p50', 'per_token_p99'])
          expect(get(`queue-hop vs ${against}`, c, `${m}_added_ms`)).toBeCloseTo(get('distributed', c, `${m}_ms`) - get(against, c, `${m}_ms`), 9);
    // And what the HTTP front adds over gRPC on the same processes.
    for (const grpc of ['gateway', 'distributed'])
      for (const c of [1, 2])
        for (const m of ['ttft_p50', 'ttft_p99', 'per_token_p50', 'per_token_p99'])
          expect(get(`http-hop vs ${grpc}`, c, `${m}_added_ms`)).toBeCloseTo(get(`${grpc}-http`, c, `${m}_ms`) - get(grpc, c, `${m}_ms`), 9);
  }, 240_000);
});
