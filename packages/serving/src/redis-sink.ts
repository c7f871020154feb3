import type { Redis } from 'ioredis';
import { EVENT_TTL_MS, keys, type StreamEvent } from './protocol.js';
import type { EventSink } from './runner.js';

/**
 * Appends the events of several streams and (re)arms their expiry, as one command. ARGV holds, per key: the number
 * of events, the expiry to set ('0': leave it), then the events. A stream's entries land together, so a blocked
 * reader wakes once for all of them.
 */
const APPEND = `
local a = 1
for k = 1, #KEYS do
  local n = tonumber(ARGV[a])
  local ttl = ARGV[a + 1]
  a = a + 2
  for i = 1, n do
    redis.call('XADD', KEYS[k], '*', 'e', ARGV[a])
    a = a + 1
  end
  if ttl ~= '0' then redis.call('PEXPIRE', KEYS[k], ttl) end
end
return #KEYS
`;

type AppendCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number>;

/** Events per command when none is in flight: a larger burst then goes out as several commands. */
const MAX_BATCH_EVENTS = 512;

interface Batch {
  readonly streams: Map<string, { events: string[]; arm: boolean }>;
  readonly waiters: { resolve(): void; reject(e: unknown): void }[];
  size: number;
}

/**
 * Each request's events go to its own Redis Stream (XADD, ids assigned by Redis, so order is total). Readers
 * resume from the last id they saw: a reconnecting or different gateway replica loses and repeats nothing.
 *
 * The appends made in one tick (the tokens of one decode step, for every sequence in the batch) leave as one
 * command: with 32 streams that is one script call per step instead of 32. While a command is in flight the next
 * appends wait for it and then leave together: when Redis or the gateway falls behind the engine, each wake-up
 * carries more tokens instead of queueing more wake-ups (a 2-vCPU box spent ~1 ms per hop once saturated).
 */
export class RedisEventSink implements EventSink {
  private readonly run: AppendCommand;
  private batch: Batch | undefined;
  private inFlight = false;

  constructor(redis: Redis) {
    redis.defineCommand('trineAppend', { lua: APPEND });
    this.run = (redis as unknown as { trineAppend: AppendCommand }).trineAppend.bind(redis);
  }

  append(requestId: string, events: readonly StreamEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (this.batch && this.batch.size + events.length > MAX_BATCH_EVENTS && !this.inFlight) this.flush();
      let b = this.batch;
      if (!b) {
        b = this.batch = { streams: new Map(), waiters: [], size: 0 };
        if (!this.inFlight) process.nextTick(() => this.batch === b && this.flush());
      }
      const key = keys.stream(requestId);
      const s = b.streams.get(key) ?? { events: [], arm: false };
      b.streams.set(key, s);
      for (const e of events) s.events.push(JSON.stringify(e));
      // The first and last events (re)arm the expiry so finished streams do not pile up in Redis.
      s.arm ||= events.some((e) => e.t !== 'tok');
      b.size += events.length;
      b.waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    const b = this.batch;
    this.batch = undefined;
    if (!b) return;
    const args: (string | number)[] = [...b.streams.keys()];
    for (const s of b.streams.values()) args.push(s.events.length, s.arm ? EVENT_TTL_MS : 0, ...s.events);
    this.inFlight = true;
    this.run(b.streams.size, ...args)
      .then(
        () => b.waiters.forEach((w) => w.resolve()),
        (e: unknown) => b.waiters.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        this.inFlight = false;
        this.flush();
      });
  }
}

/**
 * One round trip at the start of a run: was the request cancelled while it waited (the pub/sub message found no
 * worker holding it)? And which attempt is this: counted in Redis, not by BullMQ, so a restarted job's events are
 * told apart exactly.
 */
export async function claimAttempt(redis: Redis, requestId: string): Promise<{ attempt: number; cancelled: boolean }> {
  const replies = await redis
    .multi()
    .exists(keys.cancelled(requestId))
    .incr(keys.attempts(requestId))
    .pexpire(keys.attempts(requestId), EVENT_TTL_MS)
    .exec();
  const [cancelled, counted] = replies ?? [];
  for (const r of replies ?? []) if (r[0]) throw r[0];
  return { attempt: Number(counted?.[1] ?? 1), cancelled: cancelled?.[1] === 1 };
}
