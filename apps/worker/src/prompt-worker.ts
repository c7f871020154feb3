/**
 * A BullMQ Worker whose fetch loop starts each job as soon as it is claimed.
 *
 * BullMQ's own loop keeps claiming jobs until the Worker's concurrency is full or a claim comes back empty, and only
 * then starts the first one: a lone job waited for one more (empty) claim round trip, and the first job of a burst
 * for up to `concurrency` claims. Here a claimed job starts at once and the next claim is sent after it.
 *
 * Everything else stays BullMQ's: claiming (`getNextJob`, the marker wait), lock renewal and the job's end
 * (`processJob`), the stalled checker, pause and close (`close()` waits for this loop as for its own).
 */
import { Worker, type Job } from 'bullmq';

export class PromptWorker<D, R> extends Worker<D, R> {
  /** Starts the stalled checker, lock renewal and the fetch loop (instead of `run()`). */
  start(concurrency: number): void {
    if (this.running) throw new Error('worker is already running');
    this.running = true;
    this.mainLoopRunning = this.fetchLoop(concurrency).finally(() => {
      this.running = false;
    });
  }

  private async fetchLoop(concurrency: number): Promise<void> {
    await this.startStalledCheckTimer();
    if (!this.opts.skipLockRenewal) this.lockManager.start();
    const active = new Set<Promise<unknown>>();
    let serial = 0;
    // Cuts a retry wait short when the worker closes (BullMQ's own loop uses a controller close() aborts).
    const closing = new AbortController();
    this.once('closing', () => closing.abort());
    while (!this.closing && !this.paused) {
      if (active.size >= concurrency) {
        await Promise.race(active);
        continue;
      }
      const token = `${this.id}:${serial++}`;
      let job: Job<D, R> | undefined;
      try {
        job = await this.getNextJob(token, { block: true });
      } catch (e) {
        // As BullMQ's loop does: a lost connection waits `runRetryDelay` (close cuts it short), anything else is reported.
        if (this.closing || this.paused) break;
        this.emit('error', e as Error);
        await this.delay(this.opts.runRetryDelay, closing as unknown as Parameters<Worker['delay']>[1]);
        continue;
      }
      if (!job) {
        // An empty claim marks the queue drained, so the next one blocks on the marker: no busy loop.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const run: Promise<unknown> = this.processJob(job, token, () => false).finally(() => active.delete(run));
      active.add(run);
    }
    await Promise.allSettled(active);
  }
}
