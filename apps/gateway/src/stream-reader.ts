/**
 * One blocking XREAD for all of a gateway's open request streams. A reader per request re-issued its XREAD after
 * every batch, one socket write each: at 32 streams that was the gateway's largest cost (600 ms of 2.6 s busy in a
 * profile). Here a decode step's tokens for every stream come back in one reply and cost one write.
 *
 * A new stream joins the read in flight by unblocking it (CLIENT UNBLOCK from the control connection); the read is
 * then re-issued with every key. Each stream resumes from the last id it got, so a reconnect (ioredis resends the
 * command) loses and repeats nothing.
 */
import type { Redis } from 'ioredis';
import type { StreamEvent } from '@trine/serving';

/** ioredis's reply to XREAD: per stream, its entries as [id, [field, value, …]]; null when the block timed out. */
export type XReadReply = [string, [string, string[]][]][] | null;

/** How long one XREAD blocks (also the longest a stream waits to join a read when unblocking fails). */
export const BLOCK_MS = 500;
/** Events held for a consumer that is slower than its stream (a slow client): past this its key leaves the read. */
const HIGH_WATER = 1024;

export class StreamSubscription {
  /** The id of the last entry taken from Redis; the next read starts after it. */
  lastId = '0-0';
  private queue: StreamEvent[] = [];
  private error: unknown;
  private wake: (() => void) | undefined;

  constructor(
    readonly key: string,
    private readonly onDrained: () => void,
  ) {}

  /** Events received and not yet taken. */
  get held(): number {
    return this.queue.length;
  }

  get full(): boolean {
    return this.queue.length >= HIGH_WATER;
  }

  push(events: StreamEvent[]): void {
    this.queue.push(...events);
    this.notify();
  }

  fail(e: unknown): void {
    this.error ??= e;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Everything received since the last call, waiting up to `ms` for something; undefined when nothing came. */
  async next(ms: number, signal: AbortSignal): Promise<StreamEvent[] | undefined> {
    if (this.queue.length === 0 && this.error === undefined && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
    if (this.error !== undefined) throw this.error;
    if (this.queue.length === 0) return undefined;
    const wasFull = this.full;
    const batch = this.queue;
    this.queue = [];
    if (wasFull) this.onDrained();
    return batch;
  }
}

export class StreamReader {
  private readonly subs = new Map<string, StreamSubscription>();
  private running = false;
  private closed = false;
  /** Keys of the read in flight; undefined between reads. */
  private reading: ReadonlySet<string> | undefined;
  private clientId: number | undefined;
  private unblocking = false;
  private resume: (() => void) | undefined;

  /** `conn` is this reader's own (blocking) connection; `control` sends CLIENT UNBLOCK. */
  constructor(
    private readonly conn: Redis,
    private readonly control: Redis,
    private readonly blockMs = BLOCK_MS,
  ) {
    conn.on('close', () => (this.clientId = undefined));
  }

  subscribe(key: string): StreamSubscription {
    const sub = new StreamSubscription(key, () => this.rejoin(key));
    this.subs.set(key, sub);
    this.rejoin(key);
    return sub;
  }

  unsubscribe(sub: StreamSubscription): void {
    if (this.subs.get(sub.key) === sub) this.subs.delete(sub.key);
  }

  close(): void {
    this.closed = true;
    this.resume?.();
    this.conn.disconnect();
  }

  /** Makes sure `key` is in the next read: starts the loop, or cuts the read in flight short if it lacks the key. */
  private rejoin(key: string): void {
    const r = this.resume;
    this.resume = undefined;
    r?.();
    if (!this.running) void this.loop();
    else if (this.reading && !this.reading.has(key)) this.interrupt();
  }

  /** The read in flight lacks a stream that is waiting for events. */
  private get stale(): boolean {
    const reading = this.reading;
    if (!reading || this.closed) return false;
    for (const s of this.subs.values()) if (!s.full && !reading.has(s.key)) return true;
    return false;
  }

  private interrupt(): void {
    if (this.unblocking) return;
    this.unblocking = true;
    void (async () => {
      try {
        // UNBLOCK answers 0 while the read is still on its way to Redis: try again until it lands or returns.
        for (let tries = 0; this.stale && tries < 50; tries++) {
          if (this.clientId !== undefined && Number(await this.control.client('UNBLOCK', this.clientId)) === 1) return;
          await new Promise((r) => setTimeout(r, 1));
        }
      } catch {
        // Redis unreachable: the read in flight returns by itself within BLOCK_MS once it is back.
      } finally {
        this.unblocking = false;
      }
    })();
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed && this.subs.size > 0) {
        this.clientId ??= Number(await this.conn.client('ID'));
        const open = [...this.subs.values()].filter((s) => !s.full);
        if (open.length === 0) {
          // Every consumer is behind: read nothing more until one catches up.
          await new Promise<void>((r) => (this.resume = r));
          continue;
        }
        this.reading = new Set(open.map((s) => s.key));
        let reply: XReadReply;
        try {
          reply = (await this.conn.xread('COUNT', 512, 'BLOCK', this.blockMs, 'STREAMS', ...open.map((s) => s.key), ...open.map((s) => s.lastId))) as XReadReply;
        } finally {
          this.reading = undefined;
        }
        for (const [key, entries] of reply ?? []) {
          const sub = this.subs.get(key);
          if (!sub) continue;
          const events: StreamEvent[] = [];
          for (const [id, fields] of entries) {
            sub.lastId = id;
            const raw = fields[1];
            if (raw !== undefined) events.push(JSON.parse(raw) as StreamEvent);
          }
          if (events.length > 0) sub.push(events);
        }
      }
    } catch (e) {
      // Not a connection loss (ioredis retries those): a reply Redis refused. Every open stream hears of it.
      for (const s of this.subs.values()) s.fail(e);
    } finally {
      this.running = false;
    }
  }
}
