/**
 * What the queue hop costs: time to first token and per-token gaps through gateway → BullMQ/Redis → worker,
 * against the same engine called in-process, at 1 and 32 concurrent streams (p50 / p99, ms).
 *   node --import tsx apps/gateway/scripts/hop-latency.ts [--tokens 32] [--rounds 3] [--backend reference]
 * Prints one JSON object (for apps/bench to ingest). Needs redis-server on PATH; everything runs on loopback.
 */
import { parseArgs } from 'node:util';
import { EngineHost, WorkerService, type ModelHost } from '@trine/worker';
import { TrineClient } from '@trine/client';
import { startDistributedGateway } from '../src/index.js';
import { startRedis } from '../test/support/redis-server.js';

const { values } = parseArgs({ options: { tokens: { type: 'string', default: '32' }, rounds: { type: 'string', default: '3' }, backend: { type: 'string', default: 'reference' } } });
const maxTokens = Number(values.tokens);
const rounds = Number(values.rounds);

interface Sample {
  ttft: number[];
  gaps: number[];
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

const summary = (xs: number[]) => ({ p50: +pct(xs, 50).toFixed(3), p99: +pct(xs, 99).toFixed(3), n: xs.length });

async function inProcess(host: ModelHost, k: number, seed: number, s: Sample): Promise<void> {
  const t0 = performance.now();
  let last = 0;
  for await (const e of host.generate({ prompt: `latency ${k}`, sampling: { maxTokens, temperature: 1, topP: 1, topK: 0, repetitionPenalty: 1, seed, stop: [], topLogprobs: 0 } })) {
    if (e.type !== 'token') continue;
    const t = performance.now();
    if (last === 0) s.ttft.push(t - t0);
    else s.gaps.push(t - last);
    last = t;
  }
}

async function viaGateway(c: TrineClient, k: number, seed: number, s: Sample): Promise<void> {
  const t0 = performance.now();
  let last = 0;
  for await (const m of c.stream({ prompt: `latency ${k}`, maxTokens, temperature: 1, seed: BigInt(seed) })) {
    for (let i = 0; i < m.tokens.length; i++) {
      const t = performance.now();
      if (last === 0) s.ttft.push(t - t0);
      else s.gaps.push(t - last);
      last = t;
    }
  }
}

const redis = await startRedis();
const engineOpts = { backend: values.backend!, maxBatch: 32 };
const [local, workerHost] = await Promise.all([EngineHost.start(engineOpts), EngineHost.start(engineOpts)]);
const worker = await WorkerService.start({ redisUrl: redis.url, host: workerHost, concurrency: 32 });
const gw = await startDistributedGateway({ REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: values.backend!, TRINE_CACHE_TTL_MS: '0' });
const client = new TrineClient({ address: `127.0.0.1:${gw.port}` });

// Warm-up (connections, JIT, first-request paths) is not what the hop costs in steady state.
for (let w = 0; w < 3; w++) await Promise.all([inProcess(local, 0, 999, { ttft: [], gaps: [] }), viaGateway(client, 0, 999, { ttft: [], gaps: [] })]);

const result: Record<string, unknown> = { maxTokens, rounds, backend: workerHost.info.backend, model: workerHost.info.name };
for (const conc of [1, 32]) {
  const a: Sample = { ttft: [], gaps: [] };
  const b: Sample = { ttft: [], gaps: [] };
  // Concurrency 1 gets more rounds so its percentiles rest on more than a handful of first tokens.
  for (let r = 0; r < (conc === 1 ? rounds * 8 : rounds); r++) {
    // Alternate the order so drift (other load on the host) hits both sides alike.
    const runs = [() => Promise.all(Array.from({ length: conc }, (_, k) => inProcess(local, k, r * 100 + k, a))), () => Promise.all(Array.from({ length: conc }, (_, k) => viaGateway(client, k, r * 100 + k, b)))];
    if (r % 2) runs.reverse();
    for (const run of runs) await run();
  }
  result[`concurrency_${conc}`] = {
    inProcess: { ttftMs: summary(a.ttft), perTokenMs: summary(a.gaps) },
    gateway: { ttftMs: summary(b.ttft), perTokenMs: summary(b.gaps) },
    hopAddedMs: {
      ttftP50: +(pct(b.ttft, 50) - pct(a.ttft, 50)).toFixed(3),
      ttftP99: +(pct(b.ttft, 99) - pct(a.ttft, 99)).toFixed(3),
      perTokenP50: +(pct(b.gaps, 50) - pct(a.gaps, 50)).toFixed(3),
      perTokenP99: +(pct(b.gaps, 99) - pct(a.gaps, 99)).toFixed(3),
    },
  };
}
console.log(JSON.stringify(result, null, 2));
client.close();
await gw.stop(500);
await worker.close(500);
await Promise.all([local.close(), workerHost.close()]);
await redis.stop();
