/**
 * The engine's prefix-cache and prompt-lookup counters on the Prometheus endpoints of a real worker process
 * (distributed: redis-server, the gateway, the worker) and of the standalone server: a prompt sent a second time is
 * served from the cache, and prompt lookup drafts and accepts tokens on text the model repeats.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, collect, metadata, req } from './support/grpc.js';
import { scraper, spawnTs, type Proc } from './support/processes.js';
import { startDistributedStack, type DistributedStack } from './support/stack.js';

// Over three 32-token blocks, so its second run reuses whole blocks; the trained default model copies its repeats.
const prompt =
  'And God said, Let there be light: and there was light. And God said, Let there be light: and there was light. ' +
  'And God saw the light, that it was good: and God divided the light from the darkness. And God said, Let there be';

const NAMES = {
  hits: 'trine_engine_prefix_cache_hit_tokens_total',
  held: 'trine_engine_prefix_cache_held_bytes',
  lookup: 'trine_engine_prompt_lookup_tokens_total',
} as const;

type Counters = { hits: number; held: number; drafted: number; accepted: number };

async function exercise(port: number, read: () => Promise<Counters>): Promise<{ before: Counters; after: Counters }> {
  const before = await read();
  const c = client(port);
  try {
    await collect(c, req({ prompt, maxTokens: 8 }), metadata('k1'));
    await collect(c, req({ prompt, maxTokens: 8 }), metadata('k1'));
    await collect(c, req({ prompt, maxTokens: 40, promptLookup: 6 }), metadata('k1'));
  } finally {
    c.close();
  }
  return { before, after: await read() };
}

function expectMoved({ before, after }: { before: Counters; after: Counters }): void {
  expect(after.hits).toBeGreaterThan(before.hits);
  expect(after.held).toBeGreaterThan(0);
  expect(after.drafted).toBeGreaterThan(before.drafted);
  expect(after.accepted).toBeGreaterThan(before.accepted);
  expect(after.accepted - before.accepted).toBeLessThanOrEqual(after.drafted - before.drafted);
}

describe('engine metrics: a worker process', () => {
  let stack: DistributedStack;

  beforeAll(async () => {
    stack = await startDistributedStack({ TRINE_MAX_BATCH: '2' });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('prefix-cache hit tokens and bytes held, drafted and accepted tokens move', async () => {
    const { worker, gw } = stack;
    const read = async (): Promise<Counters> => {
      await worker.settled();
      return {
        hits: await worker.metric(NAMES.hits),
        held: await worker.metric(NAMES.held),
        drafted: await worker.metric(NAMES.lookup, 'kind="drafted"'),
        accepted: await worker.metric(NAMES.lookup, 'kind="accepted"'),
      };
    };
    expectMoved(await exercise(gw.port, read));
  });
});

describe('engine metrics: the standalone server', () => {
  let server: Proc;
  let port = 0;
  let scrape: ReturnType<typeof scraper>;

  beforeAll(async () => {
    const bootstrap = fileURLToPath(new URL('../src/otel/register.mjs', import.meta.url));
    server = spawnTs('apps/gateway/src/standalone.ts', {
      NODE_OPTIONS: `--import ${bootstrap}`,
      TRINE_METRICS_LISTEN: '127.0.0.1:0',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      TRINE_LISTEN: '127.0.0.1:0',
      TRINE_BACKEND: 'reference',
      TRINE_MAX_BATCH: '2',
      TRINE_API_KEYS: 'k1',
      TRINE_CACHE_TTL_MS: '0',
    });
    const metrics = await server.waitFor('metrics listening', 90_000);
    port = Number((await server.waitFor('serving', 90_000)).port);
    scrape = scraper(`http://127.0.0.1:${Number(metrics.port)}/metrics`);
  }, 120_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited();
    }
  });

  it('prefix-cache hit tokens and bytes held, drafted and accepted tokens move', async () => {
    const read = async (): Promise<Counters> => {
      const value = await scrape();
      return {
        hits: value(NAMES.hits),
        held: value(NAMES.held),
        drafted: value(NAMES.lookup, 'kind="drafted"'),
        accepted: value(NAMES.lookup, 'kind="accepted"'),
      };
    };
    expectMoved(await exercise(port, read));
  });
});
