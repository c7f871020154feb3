import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '@trine/serving';
import { StreamRelay, type RelayOutput } from './relay.js';

const start = (attempt: number): StreamEvent => ({ t: 'start', attempt, worker: `w${attempt}`, queueMs: 1 });
const tok = (attempt: number, i: number, id: number): StreamEvent => ({ t: 'tok', attempt, i, id, text: `<${id}>`, at: 0 });
const done = (attempt: number): StreamEvent => ({
  t: 'done',
  attempt,
  finish: 'length',
  usage: { inputTokens: 1, outputTokens: 3 },
  timings: { prefillMs: 0, timeToFirstTokenMs: 0, decodeMs: 0, perTokenMs: 0 },
  text: '',
  at: 0,
});

/** What a client would end up with: ids in order, with restart markers applied, and every id it was ever sent. */
function feed(events: StreamEvent[]) {
  const relay = new StreamRelay();
  const out: RelayOutput[] = events.flatMap((e) => relay.push(e));
  let ids: number[] = [];
  const everSent: number[] = [];
  let restarts = 0;
  for (const o of out) {
    if (o.kind === 'restart') {
      restarts++;
      ids = [];
    }
    if (o.kind === 'tokens') for (const t of o.tokens) (ids.push(t.id), everSent.push(t.i));
  }
  return { ids, everSent, restarts, done: out.filter((o) => o.kind === 'done').length, relay };
}

describe('StreamRelay', () => {
  it('passes one attempt through unchanged', () => {
    const r = feed([start(1), tok(1, 0, 5), tok(1, 1, 6), tok(1, 2, 7), done(1)]);
    expect(r.ids).toEqual([5, 6, 7]);
    expect(r.restarts).toBe(0);
    expect(r.done).toBe(1);
  });

  it('a deterministic re-run continues where the client was, sending nothing twice', () => {
    const r = feed([start(1), tok(1, 0, 5), tok(1, 1, 6), start(2), tok(2, 0, 5), tok(2, 1, 6), tok(2, 2, 7), done(2)]);
    expect(r.ids).toEqual([5, 6, 7]);
    expect(r.everSent).toEqual([0, 1, 2]);
    expect(r.restarts).toBe(0);
    expect(r.relay.restarts.continued).toBe(1);
  });

  it('a re-run that differs sends one restart marker, then the new tokens from index 0', () => {
    const r = feed([start(1), tok(1, 0, 5), tok(1, 1, 6), start(2), tok(2, 0, 5), tok(2, 1, 9), tok(2, 2, 7), done(2)]);
    expect(r.restarts).toBe(1);
    expect(r.ids).toEqual([5, 9, 7]);
    expect(r.relay.restarts.signalled).toBe(1);
  });

  it('a re-run that ends before reaching what the client has is a divergence too', () => {
    const r = feed([start(1), tok(1, 0, 5), tok(1, 1, 6), tok(1, 2, 7), start(2), tok(2, 0, 5), done(2)]);
    expect(r.restarts).toBe(1);
    expect(r.ids).toEqual([5]);
    expect(r.done).toBe(1);
  });

  it('a re-run that reproduces every token the client has and then ends continues silently (the first run died before `done`)', () => {
    const r = feed([start(1), tok(1, 0, 5), tok(1, 1, 6), tok(1, 2, 7), start(2), tok(2, 0, 5), tok(2, 1, 6), tok(2, 2, 7), done(2)]);
    expect(r.restarts).toBe(0);
    expect(r.everSent).toEqual([0, 1, 2]);
    expect(r.ids).toEqual([5, 6, 7]);
    expect(r.done).toBe(1);
    expect(r.relay.restarts.continued).toBe(1);
  });

  it('ignores a zombie attempt that keeps writing after a newer one started', () => {
    const r = feed([start(1), tok(1, 0, 5), start(2), tok(1, 1, 66), tok(2, 0, 5), tok(2, 1, 6), done(1), done(2)]);
    expect(r.ids).toEqual([5, 6]);
    expect(r.done).toBe(1);
  });

  it('an error event becomes the request error (a TrineError with its code and field)', () => {
    const relay = new StreamRelay();
    relay.push(start(1));
    expect(() => relay.push({ t: 'err', attempt: 1, error: { code: 'INVALID_ARGUMENT', message: 'prompt: too long', field: 'prompt' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'prompt' }),
    );
  });

  it('a gap in the log is an error, never a silent skip', () => {
    const relay = new StreamRelay();
    relay.push(start(1));
    relay.push(tok(1, 0, 5));
    expect(() => relay.push(tok(1, 2, 7))).toThrow(/missing/);
  });
});
