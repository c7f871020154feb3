/**
 * The long hardening run (issue #10), for the bench rather than CI: 200 concurrent streams through a gateway
 * process + worker processes + redis-server, then longer fault loops (worker SIGKILLs, a Redis crash). It reuses
 * the CI suite's harness and scenarios (test/hardening) and prints the same `HARDENING <name>: k=v …` lines.
 *
 *   pnpm --filter @trine/gateway hardening:long [--streams 200] [--rounds 2] [--max-tokens 32] [--workers 2]
 *        [--kill-jobs 300] [--kills 12] [--max-stalled N] [--redis-down-ms 5000] [--no-faults]
 *
 * Exits 1 if any stream lost, duplicated, reordered or changed a token, or a job was lost.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { referenceBackendFactory } from '@trine/core';
import { loadBackend } from '@trine/backends';
import type { Proc } from '../test/support/processes.js';
import { startRedis } from '../test/support/redis-server.js';
import { kill, oracle, report, rssMiB, startGatewayProcess, startWorkerProcess } from '../test/hardening/harness.js';
import { redisRestartScenario, streamsRound, workerKillScenario, type Backend, type Ctx } from '../test/hardening/scenarios.js';

const { values: a } = parseArgs({
  options: {
    streams: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    'max-tokens': { type: 'string', default: '32' },
    workers: { type: 'string', default: '2' },
    'kill-jobs': { type: 'string', default: '300' },
    kills: { type: 'string', default: '12' },
    'redis-down-ms': { type: 'string', default: '5000' },
    'no-faults': { type: 'boolean', default: false },
    // The workers' poison-pill guard in the SIGKILL loop; by default above the kill count. 2 = production default,
    // under which a job whose worker dies 3 times fails with UNAVAILABLE (counted as lost here).
    'max-stalled': { type: 'string' },
  },
});

function positive(name: keyof typeof a): number {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new Error(`--${name} must be an integer in [1, 100000], got '${String(a[name])}'`);
  return v;
}

const STREAMS = positive('streams');
const ROUNDS = positive('rounds');
const MAX_TOKENS = positive('max-tokens');
const WORKERS = positive('workers');
const SLOTS = 8;
const DEADLINE_MS = 300_000;

/** The CPU backend when its package loads here (the same one the workers pick with TRINE_BACKEND=cpu). */
async function backend(): Promise<Backend> {
  const cpu = await loadBackend('cpu');
  return cpu.factory ? { name: 'cpu', factory: cpu.factory } : { name: 'reference', factory: referenceBackendFactory };
}

const procs: Proc[] = [];
let failed = false;
const check = (name: string, ok: boolean): void => {
  if (!ok) {
    failed = true;
    console.log(`HARDENING-FAIL ${name}`);
  }
};

async function main(): Promise<void> {
  const b = await backend();
  const engine = await oracle(b, SLOTS);
  const ctx: Ctx = { backend: b, engine, procs };
  console.log(`hardening-long: backend=${b.name} streams=${STREAMS} rounds=${ROUNDS} max_tokens=${MAX_TOKENS} workers=${WORKERS} load1=${loadavg()[0]!.toFixed(1)}`);

  // 1. Concurrent streams through a gateway process (its RSS is measured) and worker processes.
  const redis = await startRedis();
  try {
    const workers = Array.from({ length: WORKERS }, () =>
      startWorkerProcess({ REDIS_URL: redis.url, TRINE_BACKEND: b.name, TRINE_MAX_BATCH: String(SLOTS), TRINE_LOCK_DURATION_MS: '10000', TRINE_STALLED_INTERVAL_MS: '1000' }),
    );
    procs.push(...workers);
    const gw = await startGatewayProcess({ REDIS_URL: redis.url, TRINE_BACKEND: b.name, TRINE_CACHE_TTL_MS: '0', TRINE_MAX_QUEUE: String(STREAMS * 2) });
    procs.push(gw);
    await Promise.all(workers.map((w) => w.waitFor('worker ready', 120_000)));
    await streamsRound(engine, gw.port, 8, 4, 'warm', DEADLINE_MS);
    const rss = [rssMiB(gw.child.pid!)];
    const t = { ok: 0, notOk: 0, tokens: 0, lost: 0, dup: 0, reordered: 0, wrong: 0, restarts: 0, seconds: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const x = await streamsRound(engine, gw.port, STREAMS, MAX_TOKENS, `long-${r}`, DEADLINE_MS);
      rss.push(rssMiB(gw.child.pid!));
      t.ok += x.ok;
      t.notOk += x.notOk;
      t.tokens += x.tokens;
      t.lost += x.lost;
      t.dup += x.dup;
      t.reordered += x.reordered;
      t.wrong += x.wrong;
      t.restarts += x.restarts;
      t.seconds.push(x.seconds);
    }
    const count = (msg: string): number => workers.reduce((n, w) => n + w.logs.filter((l) => l.msg === msg).length, 0);
    report('load-long', {
      backend: b.name,
      concurrent_streams: STREAMS,
      rounds: ROUNDS,
      ok: t.ok,
      failed: t.notOk,
      tokens: t.tokens,
      lost: t.lost,
      dup: t.dup,
      reordered: t.reordered,
      wrong: t.wrong,
      restarts: t.restarts,
      round_s: t.seconds.map((s) => s.toFixed(1)).join('/'),
      gateway_rss_mib: rss.map((m) => m.toFixed(0)).join('/'),
      lock_renewal_failures: count('lock renewal failed'),
      stalled: count('job stalled'),
    });
    check('load-long', t.notOk === 0 && t.lost + t.dup + t.reordered + t.wrong + t.restarts === 0);
    kill([gw, ...workers]);
  } finally {
    await redis.stop();
  }

  if (!a['no-faults']) {
    // 2. Worker SIGKILLs: more jobs and kills than CI.
    const k = await workerKillScenario(ctx, { jobs: positive('kill-jobs'), maxTokens: 256, workers: 3, killEveryMs: 1500, maxKills: positive('kills'), deadlineMs: DEADLINE_MS, ...(a['max-stalled'] ? { maxStalledCount: positive('max-stalled') } : {}) });
    report('worker-sigkill-long', k.figures);
    check('worker-sigkill-long', k.totals.notOk === 0 && k.totals.lost + k.totals.dup + k.totals.reordered + k.totals.wrong + k.totals.restarts === 0);

    // 3. Redis down for longer than in CI.
    const r = await redisRestartScenario(ctx, { jobs: 96, maxTokens: 128, workers: 2, downMs: positive('redis-down-ms'), deadlineMs: DEADLINE_MS });
    report('redis-restart-long', r.figures);
    const gen = r.probes.filter((p) => p.rpc === 'Generate' || p.rpc === 'GenerateStream');
    check('redis-restart-long', r.totals.hung === 0 && gen.every((p) => p.code === 'UNAVAILABLE' && p.ms < 1000) && r.totals.dup + r.totals.wrong === 0 && r.after.code === 'OK');
  }
  await engine.close();
}

main()
  .catch((e: unknown) => {
    failed = true;
    console.error(e);
  })
  .finally(() => {
    kill(procs);
    console.log(failed ? 'hardening-long: FAILED' : 'hardening-long: all checks passed');
    process.exit(failed ? 1 : 0);
  });
