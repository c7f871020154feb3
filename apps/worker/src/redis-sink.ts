import type { Redis } from 'ioredis';
import { EVENT_TTL_MS, keys, type StreamEvent } from './protocol.js';
import type { EventSink } from './runner.js';

/**
 * Each request's events go to its own Redis Stream (XADD, ids assigned by Redis, so order is total). Readers
 * resume from the last id they saw: a reconnecting or different gateway replica loses and repeats nothing.
 */
export class RedisEventSink implements EventSink {
  constructor(private readonly redis: Redis) {}

  async append(requestId: string, event: StreamEvent): Promise<void> {
    const key = keys.stream(requestId);
    if (event.t === 'tok') {
      await this.redis.xadd(key, '*', 'e', JSON.stringify(event));
      return;
    }
    // The first and last events (re)arm the expiry so finished streams do not pile up in Redis.
    await this.redis.multi().xadd(key, '*', 'e', JSON.stringify(event)).pexpire(key, EVENT_TTL_MS).exec();
  }
}
