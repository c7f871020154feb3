/**
 * What attaches at the pipeline's seam: the gateway's counters (GatewayMetrics, exported by otel/gateway-metrics.ts)
 * and the enqueue span. Both read the request's context; no step counts or traces anything itself.
 */
import { trace, SpanKind } from '@opentelemetry/api';
import { TrineError } from '@trine/core';
import { ATTR, SPAN } from '@trine/telemetry';
import { rejectReasonOf } from '../errors.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Call, GenerateContext, PipelineEvent, PipelineObserver, RequestContext } from './types.js';

/** Several observers as one: each step runs inside all of them, in order (the first is the outermost). */
export function observeWith(...observers: readonly PipelineObserver[]): PipelineObserver {
  return {
    step: (name, ctx, run) => observers.reduceRight<typeof run>((inner, o) => () => o.step(name, ctx, inner), run)(),
    event: (ctx, e) => observers.forEach((o) => o.event(ctx, e)),
  };
}

/** Requests by outcome, rejections by reason, cache lookups, worker restarts the relay handled. */
export function countInto(m: GatewayMetrics): PipelineObserver {
  return {
    step: (_name, _ctx, run) => run(),
    event(ctx: RequestContext, e: PipelineEvent) {
      switch (e.type) {
        case 'received':
          // Generate and Tokenize count as requests; ListModels does not.
          if (ctx.operation === 'list-models') break;
          m.requests++;
          m.received[(ctx as RequestContext & { call: Call<unknown> }).call.transport ?? 'grpc']++;
          break;
        case 'cache':
          if (e.hit) m.cacheHits++;
          else m.cacheMisses++;
          break;
        case 'completed':
          if (ctx.operation !== 'generate') break;
          m.completed++;
          m.restartsContinued += (ctx as GenerateContext).restarts?.continued ?? 0;
          m.restartsSignalled += (ctx as GenerateContext).restarts?.signalled ?? 0;
          break;
        case 'failed': {
          const reason = rejectReasonOf(e.error);
          if (reason) m.reject(reason);
          else if (TrineError.is(e.error, 'DEADLINE_EXCEEDED')) m.deadlineExceeded++;
          else if (TrineError.is(e.error, 'CANCELLED')) m.cancelled++;
          else m.failed++;
          break;
        }
      }
    },
  };
}

const tracer = trace.getTracer('@trine/gateway');

/** The enqueue step as a PRODUCER span: the job carries its context, so the worker's span is its child. */
export const traceEnqueue: PipelineObserver = {
  step(name, ctx, run) {
    if (name !== 'enqueue') return run();
    const attributes = { [ATTR.requestId]: (ctx as GenerateContext).requestId };
    return tracer.startActiveSpan(SPAN.enqueue, { kind: SpanKind.PRODUCER, attributes }, (span) => run().finally(() => span.end()));
  },
  event: () => undefined,
};
