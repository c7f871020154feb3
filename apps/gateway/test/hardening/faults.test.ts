/**
 * Faults under load, with real processes: worker processes SIGKILLed every few seconds while K ≥ 100 jobs run, and
 * a Redis crash + restart mid-load. Every client call carries a deadline, so a hang shows as DEADLINE_EXCEEDED,
 * not a stuck test. The scenarios live in scenarios.ts (scripts/hardening-long.ts runs them longer).
 */
import type { Engine } from '@trine/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from '../support/processes.js';
import { bestBackend, kill, oracle, report } from './harness.js';
import { redisRestartScenario, workerKillScenario, type Backend, type Ctx } from './scenarios.js';

let ctx: Ctx;
const procs: Proc[] = [];

beforeAll(async () => {
  const backend: Backend = await bestBackend();
  const engine: Engine = await oracle(backend, 8);
  ctx = { backend, engine, procs };
}, 120_000);

afterAll(async () => {
  kill(procs);
  await ctx?.engine.close();
});

describe('hardening: faults under load', () => {
  it('worker SIGKILL every ~1.5 s, K=120 jobs on 3 workers: 0 jobs lost, duplicates never reach clients', async () => {
    const r = await workerKillScenario(ctx, { jobs: 120, maxTokens: 256, workers: 3, killEveryMs: 1500, maxKills: 8, deadlineMs: 90_000 });
    report('worker-sigkill', r.figures);
    // The faults must really have hit running jobs, or the zeros below prove nothing.
    expect(r.kills).toBeGreaterThanOrEqual(3);
    expect(r.rerun).toBeGreaterThan(0);
    expect(r.totals.notOk).toBe(0);
    expect(r.totals.lost + r.totals.dup + r.totals.reordered + r.totals.wrong + r.totals.restarts).toBe(0);
  }, 180_000);

  it('Redis restart under load: UNAVAILABLE within 1 s while down, workers resume, every job ends with an explicit status', async () => {
    const r = await redisRestartScenario(ctx, { jobs: 48, maxTokens: 96, workers: 2, downMs: 2500, deadlineMs: 60_000 });
    report('redis-restart', r.figures);
    const needsRedis = r.probes.filter((p) => p.rpc === 'Generate' || p.rpc === 'GenerateStream');
    const local = r.probes.filter((p) => p.rpc === 'Tokenize' || p.rpc === 'ListModels');
    expect(needsRedis.length).toBeGreaterThanOrEqual(4);
    expect(needsRedis.map((p) => p.code)).toEqual(needsRedis.map(() => 'UNAVAILABLE'));
    expect(Math.max(...needsRedis.map((p) => p.ms))).toBeLessThan(1000);
    // Tokenize and ListModels use only the gateway's own tokenizer: they keep working while Redis is down.
    expect(local.map((p) => p.code)).toEqual(local.map(() => 'OK'));
    expect(Math.max(...local.map((p) => p.ms))).toBeLessThan(1000);
    // Every accepted stream ended: completed with exactly the right tokens, or an explicit status — none hung.
    expect(r.totals.hung).toBe(0);
    expect(r.totals.ok + r.totals.notOk).toBe(48);
    expect(r.totals.dup + r.totals.reordered + r.totals.wrong).toBe(0);
    expect(r.after.code).toBe('OK');
  }, 180_000);
});
