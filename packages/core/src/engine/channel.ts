/**
 * A single-consumer async queue: the engine's step loop pushes events, one `generate()` stream pulls them.
 * Unbounded on purpose: a stream holds at most max_tokens + 1 events, and the step loop must never wait on a slow
 * reader (that would stall every other sequence in the batch).
 */
export class Channel<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: () => void } | undefined;
  private closed = false;
  private failure: { error: unknown } | undefined;

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  fail(error: unknown): void {
    if (this.closed) return;
    this.failure = { error };
    this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) {
        if (this.failure) throw this.failure.error;
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = { resolve }));
    }
  }
}

/** Lets timers, I/O and abort listeners run between steps (setImmediate in Node, a zero timeout elsewhere). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
