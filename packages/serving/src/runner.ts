/**
 * Runs one inference job on a model and writes its events to the request's log. The distributed worker's engine
 * thread (its jobs come from BullMQ) and the standalone server's in-process queue both call this: one code path,
 * two queues.
 */
import { TrineError } from '@trine/core';
import type { GenerateEvent } from '@trine/core';
import type { ModelHost } from './model-host.js';
import type { InferenceJob, RunOutcome, StopReason, StreamEvent } from './protocol.js';
import { toWireError } from './wire-error.js';

export interface EventSink {
  /** Appends events to the request's log, in order and together (a reader sees all or none); resolves once stored. */
  append(requestId: string, events: readonly StreamEvent[]): Promise<void>;
}

export interface RunContext {
  /** Which run of the request this is; may still be on its way from Redis (generation starts meanwhile). */
  readonly attempt: number | Promise<number>;
  readonly workerId: string;
  /** Aborted with a StopReason as `reason`. */
  readonly signal: AbortSignal;
  readonly now?: () => number;
}

/** What runJob needs of a model: its generations, and whether the engine itself is gone. */
export type JobModel = Pick<ModelHost, 'generate' | 'failure'>;

export async function runJob(host: JobModel, job: InferenceJob, sink: EventSink, ctx: RunContext): Promise<RunOutcome> {
  const now = ctx.now ?? Date.now;
  let attempt = typeof ctx.attempt === 'number' ? ctx.attempt : 0;
  // The start event waits for the run's first event and travels with it: the reader then wakes once for both, so
  // the first token costs no extra round trip.
  let start: StreamEvent | undefined;
  const emit = (...events: StreamEvent[]): Promise<void> => {
    const batch = start ? [start, ...events] : events;
    start = undefined;
    return sink.append(job.requestId, batch);
  };
  const expired = (): Promise<RunOutcome> =>
    emit({ t: 'err', attempt, error: { code: 'DEADLINE_EXCEEDED', message: 'deadline exceeded before the request finished' } }).then(() => 'expired');

  // A job whose deadline passed while it waited never starts.
  if (now() >= job.deadline) {
    attempt = await ctx.attempt;
    return expired();
  }
  if (ctx.signal.aborted) {
    attempt = await ctx.attempt;
    return stopped(ctx.signal.reason as StopReason);
  }

  const engineAbort = new AbortController();
  const onStop = (): void => engineAbort.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onStop, { once: true });
  const deadlineTimer = setTimeout(() => engineAbort.abort('deadline' satisfies StopReason), Math.max(0, job.deadline - now()));
  deadlineTimer.unref?.();

  // The engine starts on the prompt while the attempt number is read (one Redis round trip off the first token);
  // its events wait in the generator until the start event, which carries the attempt, is written.
  const generation = host.generate(job.request, engineAbort.signal)[Symbol.asyncIterator]();
  const first = generation.next();
  first.catch(() => undefined); // awaited below; an early failure must not count as unhandled meanwhile
  async function* events(): AsyncGenerator<GenerateEvent, void, undefined> {
    let finished = false;
    try {
      for (let r = await first; !r.done; r = await generation.next()) yield r.value;
      finished = true;
    } finally {
      if (!finished) await generation.return?.(undefined);
    }
  }
  try {
    attempt = await ctx.attempt;
  } catch (e) {
    engineAbort.abort('lock-lost' satisfies StopReason);
    clearTimeout(deadlineTimer);
    ctx.signal.removeEventListener('abort', onStop);
    try {
      for await (const _ of events()) {
        // drain the aborted generation so the engine thread forgets it
      }
    } catch {
      // the aborted generation's own ending; the Redis failure below is what the job reports
    }
    throw e;
  }

  async function stopped(reason: StopReason | undefined): Promise<RunOutcome> {
    if (reason === 'deadline') return expired();
    if (reason === 'cancel') {
      await emit({ t: 'err', attempt, error: { code: 'CANCELLED', message: 'cancelled by the client' } });
      return 'cancelled';
    }
    // Lost lock or shutdown: write nothing, the next attempt (another worker) continues the request.
    return 'handed-back';
  }

  // Start and token events are written without waiting for each reply: the sink keeps them in order (one Redis
  // connection), so the engine's next token never waits on a round trip. Terminal events wait for all before them.
  let writing: Promise<void> = Promise.resolve();
  let unacked = 0;
  let writeError: unknown;
  const send = async (e: StreamEvent): Promise<void> => {
    const p = emit(e);
    unacked++;
    writing = p.then(
      () => void unacked--,
      (err: unknown) => void (writeError ??= err),
    );
    if (unacked > 256) await writing; // bounded when the sink is slower than the engine
    if (writeError !== undefined) throw writeError;
  };
  const settle = async (): Promise<void> => {
    await writing;
    if (writeError !== undefined) throw writeError;
  };

  try {
    start = { t: 'start', attempt, worker: ctx.workerId, queueMs: Math.max(0, now() - job.acceptedAt) };
    for await (const ev of events()) {
      if (ev.type === 'token') {
        // Stopped (cancel, deadline, lost lock): a token computed before the stop took effect is not written.
        if (engineAbort.signal.aborted) continue;
        await send({
          t: 'tok',
          attempt,
          i: ev.index,
          id: ev.tokenId,
          text: ev.text,
          ...(ev.logprob !== undefined ? { logprob: ev.logprob } : {}),
          ...(ev.topLogprobs ? { top: ev.topLogprobs } : {}),
          at: now(),
        });
      } else {
        await settle();
        if (ev.finishReason === 'cancelled') return await stopped(engineAbort.signal.reason as StopReason);
        await emit({ t: 'done', attempt, finish: ev.finishReason, usage: ev.usage, timings: ev.timings, text: ev.text, at: now() });
        return 'done';
      }
    }
    throw new Error('generation ended without a done event');
  } catch (e) {
    await writing;
    if (engineAbort.signal.aborted && TrineError.is(e, 'CANCELLED')) return stopped(engineAbort.signal.reason as StopReason);
    // The engine itself is gone (its thread died): not this request's fault. Write nothing; the job goes to
    // another worker (this process exits), where it continues.
    if (host.failure !== undefined) return 'handed-back';
    await emit({ t: 'err', attempt, error: toWireError(e) });
    return 'failed';
  } finally {
    clearTimeout(deadlineTimer);
    ctx.signal.removeEventListener('abort', onStop);
  }
}
