/**
 * The last step of a Generate: follows the job's event log until it ends, turning it into what the client sees
 * (StreamRelay: each token once, in order, across worker restarts), checking the response against the content
 * policy as it grows, and ending with the final answer. Stops the job when the client goes, the deadline passes or
 * anything else ends the relay early.
 */
import { TrineError } from '@trine/core';
import type { Timings } from '@trine/proto';
import type { CachedResponse, CachedToken } from '../cache.js';
import type { ContentPolicy } from '../policy.js';
import type { JobQueue } from '../queue.js';
import { StreamRelay, type RelayOutput, type TokenEvent } from '../relay.js';
import type { GenerateContext, Step } from './types.js';

export const relay = (queue: JobQueue, policy: ContentPolicy): Step<GenerateContext> => ({
  name: 'relay',
  run: (ctx) => follow(ctx, queue, policy),
});

async function follow(ctx: GenerateContext, queue: JobQueue, policy: ContentPolicy): Promise<void> {
  const { requestId, sink, t0 } = ctx;
  const model = ctx.validated!.model;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort('deadline'), Math.max(0, ctx.deadline! - Date.now()));
  const onCancel = (): void => stop.abort('cancel');
  ctx.call.signal.addEventListener('abort', onCancel, { once: true });
  const relay = new StreamRelay();
  const collected: CachedToken[] = [];
  let responseText = '';
  let firstTokenMs = 0;
  let queueMs = 0;
  let finished = false;
  try {
    // The tokens of one batch (the events that arrived together) go to the client in one message.
    const deliver = async (tokens: readonly TokenEvent[]): Promise<void> => {
      if (tokens.length === 0) return;
      if (firstTokenMs === 0) firstTokenMs = performance.now() - t0;
      const toks = tokens.map((t) => ({ i: t.i, id: t.id, text: t.text, ...(t.logprob !== undefined ? { logprob: t.logprob } : {}), ...(t.top ? { top: t.top } : {}) }));
      collected.push(...toks);
      responseText += toks.map((t) => t.text).join('');
      const rv = policy.checkResponse(responseText);
      if (!rv.allowed) throw new TrineError('POLICY_DENIED', rv.reason);
      await sink.tokens(toks);
    };
    for await (const batch of queue.events(requestId, stop.signal)) {
      if (stop.signal.aborted) break;
      const pending: TokenEvent[] = [];
      for (const ev of batch) {
        let outs: RelayOutput[];
        try {
          outs = relay.push(ev);
        } catch (e) {
          await deliver(pending); // what came before the error still reaches the client, then the error
          throw e;
        }
        for (const out of outs) {
          if (out.kind === 'tokens') {
            pending.push(...out.tokens);
            continue;
          }
          await deliver(pending.splice(0));
          if (out.kind === 'start') queueMs = out.queueMs;
          else if (out.kind === 'restart') {
            collected.length = 0;
            responseText = '';
            await sink.restart();
          } else {
            const rv = policy.checkResponse(responseText + out.text);
            if (!rv.allowed) throw new TrineError('POLICY_DENIED', rv.reason);
            finished = true;
            const totalMs = performance.now() - t0;
            const timings: Timings = {
              queueMs,
              timeToFirstTokenMs: firstTokenMs || totalMs,
              prefillMs: out.timings.prefillMs,
              decodeMs: out.timings.decodeMs,
              perTokenMs: out.timings.perTokenMs,
              totalMs,
            };
            const result: CachedResponse = { tokens: collected, tail: out.text, finish: out.finish, usage: out.usage, timings: out.timings };
            await ctx.remember?.(result);
            await sink.done({ ...result, cached: false, id: requestId, model, timings });
            ctx.restarts = relay.restarts;
            return;
          }
        }
      }
      await deliver(pending);
    }
    if (stop.signal.reason === 'deadline') throw new TrineError('DEADLINE_EXCEEDED', 'deadline exceeded');
    throw new TrineError('CANCELLED', 'cancelled by the client');
  } finally {
    clearTimeout(timer);
    ctx.call.signal.removeEventListener('abort', onCancel);
    // Whatever ended the call early (client cancel, deadline, policy, an error), the job must stop too.
    if (!finished) await queue.cancel(requestId).catch(() => undefined);
  }
}
