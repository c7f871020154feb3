/** Cancellation by AbortSignal when no attempt is running: before the first, or during the backoff between two. */
import { status } from '@grpc/grpc-js';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrineClient } from '../src/index.js';

// A port that refuses connections: every attempt fails UNAVAILABLE, so the client retries with backoff.
let closed: number;
beforeAll(async () => {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closed = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
});

let trine: TrineClient;
afterAll(() => trine?.close());

describe('TrineClient cancellation', () => {
  it('a signal aborted before the call rejects it with CANCELLED, unary and streamed', async () => {
    trine = new TrineClient({ address: `127.0.0.1:${closed}`, retry: { maxAttempts: 4 } });
    const signal = AbortSignal.abort();
    await expect(trine.generate({ prompt: 'x' }, { signal })).rejects.toMatchObject({ code: status.CANCELLED });
    await expect(trine.stream({ prompt: 'x' }, { signal }).next()).rejects.toMatchObject({ code: status.CANCELLED });
  });

  it('aborting during the backoff after an UNAVAILABLE attempt rejects with CANCELLED, not a later attempt', async () => {
    trine = new TrineClient({ address: `127.0.0.1:${closed}`, retry: { maxAttempts: 50, initialBackoffMs: 200, maxBackoffMs: 200 } });
    const ac = new AbortController();
    const call = trine.generate({ prompt: 'x' }, { signal: ac.signal, deadlineMs: 60_000 }).catch((e: { code: number }) => e);
    // The first attempt fails at once (connection refused); abort while the client waits to retry.
    setTimeout(() => ac.abort(), 50);
    const e = await call;
    expect(e).toMatchObject({ code: status.CANCELLED });
  });
});
