/**
 * A BullMQ Worker whose fetch loop starts each job as soon as it is claimed.
 *
 * BullMQ's own loop keeps claiming jobs until the Worker's concurrency is full or a claim comes back empty, and only
 * then starts the first one: a lone job waited for one more (empty) claim round trip, and the first job of a burst
 * for up to `concurrency` claims. Here a claimed job starts at once and the next claim is sent after it.
 *
 * Everything else stays BullMQ's: claiming (`getNextJob`, the marker wait), lock renewal and the job's end
 * (`processJob`), the stalled checker, concurrency, pause, resume and close.
 */
import { Worker, type Job } from 'bullmq';

/** Slots shared by several PromptWorkers of one process (its engine's batch), so together they claim no more. */
export interface ClaimGate {
  /** Whether a slot is free now. */
  open(): boolean;
  /** Resolves when a slot may have been freed (or `signal` aborts). */
  opened(signal: AbortSignal): Promise<void>;
}

export class PromptWorker<D, R> extends Worker<D, R> {
  /** When set, a claim waits for a free slot of the process as well as of this Worker's own concurrency. */
  gate: ClaimGate | undefined;

  /** As BullMQ's `run()` (and what `resume()` calls), with this fetch loop in place of BullMQ's. */
  override async run(): Promise<void> {
    if (this.running) throw new Error('Worker is already running.');
    this.running = true;
    try {
      if (this.closing || this.paused) return;
      await this.startStalledCheckTimer();
      if (!this.opts.skipLockRenewal) this.lockManager.start();
      // close() waits for this as for BullMQ's own loop.
      this.mainLoopRunning = this.fetchLoop();
      await this.mainLoopRunning;
    } finally {
      this.running = false;
    }
  }

  private async fetchLoop(): Promise<void> {
    const active = new Set<Promise<unknown>>();
    // Cuts a retry wait short when the worker closes (BullMQ's own loop uses a controller close() aborts).
    const closing = new AbortController();
    const onClosing = (): void => closing.abort();
    this.once('closing', onClosing);
    // A claim waiting for a free slot (`gate`) ends on pause too, so the loop sees it.
    this.once('paused', onClosing);
    try {
      for (let serial = 0; !this.closing && !this.paused; ) {
        if (active.size >= this.concurrency) {
          await Promise.race(active);
          continue;
        }
        if (this.gate && !this.gate.open()) {
          await this.gate.opened(closing.signal);
          continue;
        }
        const token = `${this.id}:${serial++}`;
        let job: Job<D, R> | undefined;
        try {
          job = await this.getNextJob(token, { block: true });
        } catch (e) {
          // Reported, then the next claim waits `runRetryDelay` as in BullMQ's loop (close cuts the wait short).
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
        if (this.closing || this.paused) {
          // A claim blocked in Redis when the pause came still takes the next job (BullMQ claims once the marker
          // arrives, paused or not) — on shutdown, the very job this worker just handed back. Give it back at once.
          await job.moveToWait(token).catch((e: unknown) => this.emit('error', e as Error));
          break;
        }
        const run: Promise<unknown> = this.processJob(job, token, () => false).finally(() => active.delete(run));
        active.add(run);
      }
    } finally {
      this.off('closing', onClosing);
      this.off('paused', onClosing);
    }
    await Promise.allSettled(active);
  }
}
