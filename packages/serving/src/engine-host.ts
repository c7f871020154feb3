/**
 * The main-thread side of the engine thread. Inference runs on a worker_threads thread that owns the Engine, so
 * the main event loop (BullMQ lock renewals, Redis, gRPC) never waits on a decode step.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { context, propagation } from '@opentelemetry/api';
import { TrineError, type EngineRequest, type EngineStats, type GenerateEvent } from '@trine/core';
import type { EngineThreadOptions, FromThread, HeldPrefixes, ServedModelInfo, ToThread } from './engine-messages.js';
import type { QueueHost } from './model-host.js';
import type { InferenceJob, RunOutcome, StopReason, WireError } from './protocol.js';
import { fromWireError } from './wire-error.js';

interface Pending {
  push(e: GenerateEvent): void;
  fail(e: Error): void;
}

/** Where the thread's entry lives: beside this file, as .js when built and .ts under tsx/vitest. */
function threadEntry(): URL {
  const ts = import.meta.url.endsWith('.ts');
  return new URL(ts ? './engine-thread.ts' : './engine-thread.js', import.meta.url);
}

/** The caller's trace context (W3C traceparent), so the engine thread's step spans join the request's trace. */
function activeTrace(): Record<string, string> {
  const trace: Record<string, string> = {};
  propagation.inject(context.active(), trace);
  return trace;
}

export class EngineHost implements QueueHost {
  private constructor(
    private readonly thread: Worker,
    readonly info: ServedModelInfo,
  ) {
    thread.on('message', (m: FromThread) => this.onMessage(m));
    thread.on('error', (e) => this.failAll(new TrineError('UNAVAILABLE', `engine thread crashed: ${e.message}`, { cause: e })));
    thread.on('exit', (code) => this.failAll(new TrineError('UNAVAILABLE', `engine thread exited (code ${code})`)));
  }

  private readonly streams = new Map<string, Pending>();
  /** Requests to the thread that wait for one answer ('tokenized', 'connected', 'ran'), by request id. */
  private readonly calls = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  private nextId = 0;
  private dead: Error | undefined;
  private closing = false;
  /** Called once if the engine thread dies while not being closed (a worker process should exit then). */
  onCrash: ((e: Error) => void) | undefined;
  onLog: ((msg: string, fields: Record<string, unknown>) => void) | undefined;

  get failure(): Error | undefined {
    return this.dead;
  }

  /** Starts the thread, loads the model, picks the backend and runs one warm-up step. */
  static async start(options: EngineThreadOptions): Promise<EngineHost> {
    const entry = threadEntry();
    // Built .js runs as is. From sources (tsx, vitest) the thread registers tsx's loader first, then imports the .ts.
    const thread = entry.pathname.endsWith('.ts')
      ? new Worker(
          `const { register } = await import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs'))});
           register();
           await import(${JSON.stringify(entry.href)});`,
          { eval: true, workerData: options },
        )
      : new Worker(entry, { workerData: options });
    const info = await new Promise<ServedModelInfo>((resolve, reject) => {
      const onMessage = (m: FromThread): void => {
        if (m.type === 'ready') resolve(m.info);
        else if (m.type === 'fatal') reject(fromWireError(m.error));
        else return;
        thread.off('message', onMessage);
      };
      thread.on('message', onMessage);
      thread.once('error', reject);
      thread.once('exit', (code) => reject(new TrineError('UNAVAILABLE', `engine thread exited during start (code ${code})`)));
    });
    thread.removeAllListeners('error');
    thread.removeAllListeners('exit');
    return new EngineHost(thread, info);
  }

  private post(m: ToThread): void {
    this.thread.postMessage(m);
  }

  private onMessage(m: FromThread): void {
    switch (m.type) {
      case 'events':
        for (const item of m.items) {
          const s = this.streams.get(item.id);
          if ('error' in item) {
            s?.fail(fromWireError(item.error));
            this.streams.delete(item.id);
          } else {
            s?.push(item.event);
            if (item.event.type === 'done') this.streams.delete(item.id);
          }
        }
        break;
      case 'tokenized':
        this.answer(m.rid, m.error, m.ids ?? []);
        break;
      case 'connected':
        this.answer(m.rid, undefined, undefined);
        break;
      case 'prefixes':
        this.answer(m.rid, undefined, m.held);
        break;
      case 'stats':
        this.answer(m.rid, undefined, m.stats);
        break;
      case 'ran':
        this.answer(m.rid, m.error ?? (m.outcome ? undefined : { code: 'INTERNAL', message: 'run ended without an outcome' }), { outcome: m.outcome, attempt: m.attempt ?? 0 });
        break;
      case 'log':
        this.onLog?.(m.msg, m.fields);
        break;
      default:
        break;
    }
  }

  private failAll(e: Error): void {
    if (!this.dead && !this.closing) this.onCrash?.(e);
    this.dead ??= e;
    for (const s of this.streams.values()) s.fail(e);
    this.streams.clear();
    for (const c of this.calls.values()) c.reject(e);
    this.calls.clear();
  }

  /** Posts a request that the thread answers once, under `rid`. */
  private call<T>(rid: number, message: ToThread): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      this.calls.set(rid, { resolve: resolve as (value: unknown) => void, reject });
      this.post(message);
    });
  }

  private answer(rid: number, error: WireError | undefined, value: unknown): void {
    const c = this.calls.get(rid);
    this.calls.delete(rid);
    if (error) c?.reject(fromWireError(error));
    else c?.resolve(value);
  }

  tokenize(text: string, chat: boolean): Promise<number[]> {
    const rid = this.nextId++;
    return this.call(rid, { type: 'tokenize', rid, text, chat });
  }

  heldPrefixes(): Promise<HeldPrefixes> {
    const rid = this.nextId++;
    return this.call(rid, { type: 'prefixes', rid });
  }

  /** The engine's counters now (prefix-cache hits and bytes held, prompt-lookup drafts), read by the metrics endpoint. */
  engineStats(): Promise<EngineStats> {
    const rid = this.nextId++;
    return this.call(rid, { type: 'stats', rid });
  }

  connectQueue(redisUrl: string): Promise<void> {
    const rid = this.nextId++;
    return this.call(rid, { type: 'connect', rid, redisUrl });
  }

  runQueued(job: InferenceJob, workerId: string, signal: AbortSignal): Promise<{ outcome: RunOutcome; attempt: number }> {
    if (this.dead) return Promise.reject(this.dead);
    const rid = this.nextId++;
    const ran = this.call<{ outcome: RunOutcome; attempt: number }>(rid, { type: 'run', rid, job, workerId, trace: activeTrace() });
    const onAbort = (): void => this.post({ type: 'stop', rid, reason: signal.reason as StopReason });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return ran.finally(() => signal.removeEventListener('abort', onAbort));
  }

  async *generate(request: EngineRequest, signal?: AbortSignal): AsyncGenerator<GenerateEvent, void, undefined> {
    if (this.dead) throw this.dead;
    const id = `g${this.nextId++}`;
    const queue: GenerateEvent[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    this.streams.set(id, {
      push: (e) => {
        queue.push(e);
        notify();
      },
      fail: (e) => {
        failure = e;
        notify();
      },
    });
    const onAbort = (): void => this.post({ type: 'cancel', id });
    signal?.addEventListener('abort', onAbort, { once: true });
    this.post({ type: 'generate', id, request, trace: activeTrace() });
    if (signal?.aborted) onAbort();
    let finished = false;
    try {
      for (;;) {
        const e = queue.shift();
        if (e) {
          yield e;
          if (e.type === 'done') {
            finished = true;
            return;
          }
          continue;
        }
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stops early (break / throw) must not leave the sequence running in the batch.
      if (!finished && !failure) this.post({ type: 'cancel', id });
      this.streams.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => {
      this.thread.on('message', (m: FromThread) => m.type === 'closed' && resolve());
      this.thread.once('exit', () => resolve());
    });
    this.post({ type: 'close' });
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.thread.terminate();
    this.dead = new TrineError('UNAVAILABLE', 'engine closed');
  }
}
