/**
 * Prefix routing (TRINE_PREFIX_ROUTING) with a real redis-server, the real gateway and four real worker processes:
 * a chat's next turn goes to the worker whose prefix cache holds its start (and that worker reports the hit); a job
 * routed to a worker that then dies still completes on another; with routing off, jobs take the shared queue.
 */
import { prefixBlockKeys, ENGINE_DEFAULTS, type ChatMessage } from '@trine/core';
import { keys, routing, type StreamEvent } from '@trine/serving';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributedGateway, TokenizerCatalog, type Running } from '../src/index.js';
import { client, collect, metadata, req } from './support/grpc.js';
import { spawnTs, type Proc } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

let redis: RedisServer;
let gw: Running;
let db: Redis;
let catalog: TokenizerCatalog;
const workers = new Map<string, Proc>();

const workerEnv = (): Record<string, string> => ({
  REDIS_URL: redis.url,
  TRINE_BACKEND: 'reference',
  TRINE_MAX_BATCH: '2',
  TRINE_PREFIX_ROUTING: '1',
  // Short locks so a dead worker's started job is taken up again within about a second of its queue being adopted.
  TRINE_LOCK_DURATION_MS: '1000',
  TRINE_STALLED_INTERVAL_MS: '300',
  // SIGTERM hands a running job back at once (with a grace, the small model often finishes it first).
  TRINE_SHUTDOWN_GRACE_MS: '0',
});

async function startWorker(): Promise<string> {
  const p = spawnTs('apps/worker/src/main.ts', workerEnv());
  const ready = await p.waitFor('worker ready', 90_000);
  const id = String(ready.workerId);
  workers.set(id, p);
  return id;
}

beforeAll(async () => {
  redis = await startRedis();
  db = new Redis(redis.url);
  [gw, catalog] = await Promise.all([
    startDistributedGateway({ REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_CACHE_TTL_MS: '0', TRINE_PREFIX_ROUTING: '1' }),
    TokenizerCatalog.load(),
  ]);
  // One for each test that ends a worker, and one left for the last.
  await Promise.all([startWorker(), startWorker(), startWorker(), startWorker()]);
}, 180_000);

afterAll(async () => {
  for (const p of workers.values()) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await gw?.stop(500);
  db?.disconnect();
  await redis?.stop();
});

const system = (k: number): string =>
  `Chat ${k}. You are a patient guide to the mountain huts of the northern range: you know their opening months, ` +
  `how long the paths between them take in good and bad weather, and which ones serve dinner. Answer briefly.`;

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The worker that ran the request's last attempt (its start event), and how many attempts there were. */
async function ranOn(requestId: string): Promise<{ worker: string; attempts: number }> {
  const entries = (await db.xrange(keys.stream(requestId), '-', '+')) as [string, string[]][];
  const starts = entries.map(([, f]) => JSON.parse(f[1]!) as StreamEvent).filter((e): e is Extract<StreamEvent, { t: 'start' }> => e.t === 'start');
  return { worker: starts.at(-1)!.worker, attempts: starts.length };
}

/** The first block keys of a chat's prompt as the gateway hashes it (the gateway's own catalog and core's hash). */
async function promptKeys(messages: ChatMessage[]): Promise<string[]> {
  const ids = await catalog.promptIds('', { messages });
  return prefixBlockKeys(ids, ENGINE_DEFAULTS.prefixBlockTokens, ids.length - 1);
}

const hits = async (worker: string): Promise<number> => Number((await db.hget(routing.report(worker), '#hits')) ?? 0);

interface Turn {
  readonly id: string;
  readonly text: string;
  readonly ids: number[];
}

async function turn(port: number, messages: ChatMessage[], maxTokens = 8, deadlineMs = 30_000): Promise<Turn> {
  const c = client(port);
  try {
    const msgs = await collect(c, req({ messages, maxTokens, temperature: 0 }), metadata(), deadlineMs);
    const last = msgs.at(-1)!;
    expect(last.done).toBe(true);
    expect(msgs.some((m) => m.restarted)).toBe(false);
    const toks = msgs.flatMap((m) => m.tokens);
    expect(toks.map((t) => t.index)).toEqual(toks.map((_, i) => i)); // each token once, in order
    return { id: last.id, text: msgs.map((m) => m.text).join(''), ids: toks.map((t) => t.id) };
  } finally {
    c.close();
  }
}

/** Turn 1 of chat k, and turn 2's messages once the worker that ran turn 1 reports holding turn 2's first block. */
async function firstTurn(k: number): Promise<{ worker: string; next: ChatMessage[] }> {
  const messages: ChatMessage[] = [
    { role: 'system', content: system(k) },
    { role: 'user', content: 'Which hut opens first in spring?' },
  ];
  const t1 = await turn(gw.port, messages);
  const { worker } = await ranOn(t1.id);
  const next: ChatMessage[] = [...messages, { role: 'assistant', content: t1.text }, { role: 'user', content: 'And how long is the walk there?' }];
  const [first] = await promptKeys(next);
  // The worker reports after the job ends (the client may have its answer a moment before).
  await until(async () => (await db.hexists(routing.report(worker), first!)) === 1, `${worker} to report the chat's first block`);
  return { worker, next };
}

describe('prefix routing (real workers)', () => {
  it("a chat's second turn runs on the worker that ran its first, from that worker's own queue, with a prefix hit", async () => {
    for (let k = 0; k < 4; k++) {
      const { worker, next } = await firstTurn(k);
      const before = await hits(worker);
      const t2 = await turn(gw.port, next);
      expect(await ranOn(t2.id)).toEqual({ worker, attempts: 1 });
      // BullMQ keeps a completed job's hash for a while, under the queue it went through.
      expect(await db.exists(`${keys.prefix}:${routing.queueName(worker)}:${t2.id}`)).toBe(1);
      expect(await db.exists(`${keys.prefix}:${keys.queueName}:${t2.id}`)).toBe(0);
      // The worker's engine served at least the system prompt's whole blocks from its cache.
      await until(async () => (await hits(worker)) > before, `${worker} to report the hit`);
      expect((await hits(worker)) - before).toBeGreaterThanOrEqual(ENGINE_DEFAULTS.prefixBlockTokens);
    }
  }, 60_000);

  it('a job routed to a worker that dies before taking it completes on another (SIGSTOP, then SIGKILL)', async () => {
    const { worker: victim, next } = await firstTurn(10);
    const plain = await turn(gw.port, next); // the same turn once, for its tokens (greedy)
    const p = workers.get(victim)!;
    p.child.kill('SIGSTOP');
    // Its report stays fresh for up to REPORT_TTL_MS: the gateway still routes to it.
    const pending = turn(gw.port, next);
    await until(async () => (await db.llen(`${keys.prefix}:${routing.queueName(victim)}:wait`)) > 0, 'the job in the stopped worker\'s queue');
    p.child.kill('SIGKILL');
    await p.exited();
    const t2 = await pending;
    const ran = await ranOn(t2.id);
    expect(ran.worker).not.toBe(victim);
    expect(ran.attempts).toBe(1);
    expect(t2.ids).toEqual(plain.ids);
  }, 60_000);

  /** Turn 2 of a chat streamed while `end` stops the worker that runs it, after its first tokens. */
  async function interrupted(k: number, end: (p: Proc) => void): Promise<{ victim: string; plain: Turn; got: number[]; restarted: boolean; id: string }> {
    const { worker: victim, next } = await firstTurn(k);
    // Long enough that the worker is still generating when it is stopped.
    const plain = await turn(gw.port, next, 64);
    const c = client(gw.port);
    const got: number[] = [];
    let restarted = false;
    const s = c.generateStream(req({ messages: next, maxTokens: 64, temperature: 0 }), metadata(), { deadline: Date.now() + 30_000 });
    let firstId = '';
    const done = new Promise<void>((resolve, reject) => {
      s.on('data', (m: { tokens: { id: number }[]; restarted: boolean; id: string }) => {
        if (m.restarted) restarted = true;
        got.push(...m.tokens.map((t) => t.id));
        if (m.id) firstId = m.id;
      });
      s.on('end', resolve);
      s.on('error', reject);
    });
    await until(async () => got.length >= 2, 'the first tokens');
    end(workers.get(victim)!);
    await done;
    c.close();
    return { victim, plain, got, restarted, id: firstId };
  }

  /**
   * The stream went on without a restart and equals the uninterrupted run; the job's second attempt ran on another
   * worker, taken from the interrupted worker's own queue (adopted by a live worker), not through the shared queue.
   */
  async function expectContinuedElsewhere(r: Awaited<ReturnType<typeof interrupted>>): Promise<void> {
    expect(r.restarted).toBe(false);
    expect(r.got).toEqual(r.plain.ids);
    const ran = await ranOn(r.id);
    expect(ran.worker).not.toBe(r.victim);
    expect(ran.attempts).toBe(2);
    expect(await db.exists(`${keys.prefix}:${routing.queueName(r.victim)}:${r.id}`)).toBe(1);
  }

  it('a job a routed worker had started continues on another when that worker is SIGKILLed', async () => {
    await expectContinuedElsewhere(await interrupted(20, (p) => p.child.kill('SIGKILL')));
  }, 60_000);

  it('SIGTERM: a worker hands its routed job back to its own queue, deletes its report, and another finishes the job', async () => {
    let exited: Promise<{ code: number | null }> | undefined;
    const r = await interrupted(40, (p) => {
      p.child.kill('SIGTERM');
      exited = p.exited();
    });
    expect(await exited).toMatchObject({ code: 0 });
    expect(await db.exists(routing.report(r.victim))).toBe(0);
    await expectContinuedElsewhere(r);
  }, 60_000);

  it('with routing off at the gateway, every job takes the shared queue, as before', async () => {
    const off = await startDistributedGateway({ REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_CACHE_TTL_MS: '0' });
    try {
      const messages: ChatMessage[] = [
        { role: 'system', content: system(30) },
        { role: 'user', content: 'Which hut opens first in spring?' },
      ];
      const t1 = await turn(off.port, messages);
      const t2 = await turn(off.port, [...messages, { role: 'assistant', content: t1.text }, { role: 'user', content: 'And how long is the walk there?' }]);
      for (const t of [t1, t2]) {
        expect(await db.exists(`${keys.prefix}:${keys.queueName}:${t.id}`)).toBe(1);
        const { worker } = await ranOn(t.id);
        expect(await db.exists(`${keys.prefix}:${routing.queueName(worker)}:${t.id}`)).toBe(0);
      }
    } finally {
      await off.stop(500);
    }
  }, 60_000);
});
