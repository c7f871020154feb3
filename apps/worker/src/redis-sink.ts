import type { Redis } from 'ioredis';
import { EVENT_TTL_MS, keys, type StreamEvent } from './protocol.js';
import type { EventSink } from './runner.js';

/**
 * Appends events and, when asked, (re)arms the stream's expiry, as one command: the entries land together, so a
 * blocked reader wakes once and gets all of them (one Redis round trip on each side instead of one per event).
 */
const APPEND = `
for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'e', ARGV[i]) end
if ARGV[1] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return #ARGV - 1
`;

type AppendCommand = (key: string, ttlMs: number | string, ...events: string[]) => Promise<number>;

/**
 * Each request's events go to its own Redis Stream (XADD, ids assigned by Redis, so order is total). Readers
 * resume from the last id they saw: a reconnecting or different gateway replica loses and repeats nothing.
 */
export class RedisEventSink implements EventSink {
  private readonly run: AppendCommand;

  constructor(private readonly redis: Redis) {
    redis.defineCommand('trineAppend', { numberOfKeys: 1, lua: APPEND });
    this.run = (redis as unknown as { trineAppend: AppendCommand }).trineAppend.bind(redis);
  }

  async append(requestId: string, events: readonly StreamEvent[]): Promise<void> {
    if (events.length === 0) return;
    // The first and last events (re)arm the expiry so finished streams do not pile up in Redis.
    const arm = events.some((e) => e.t !== 'tok');
    await this.run(keys.stream(requestId), arm ? EVENT_TTL_MS : 0, ...events.map((e) => JSON.stringify(e)));
  }
}
