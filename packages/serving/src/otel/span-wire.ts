/**
 * Finished spans cross from the engine thread to the main thread as plain objects (structured clone): the
 * engine thread has no exporter of its own, so one pipeline (one resource, one OTLP connection) exports all.
 */
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The channel both threads open by name (BroadcastChannel reaches every thread of the process). */
export const ENGINE_SPAN_CHANNEL = 'trine:otel:engine-spans';
/** Set by the main thread's telemetry bootstrap before the engine thread starts (threads copy process.env). */
export const ENGINE_SPANS_ENV = 'TRINE_OTEL_ENGINE_SPANS';

export type WireSpan = Omit<ReadableSpan, 'spanContext' | 'resource'> & { readonly context: ReturnType<ReadableSpan['spanContext']> };

export function toWire(span: ReadableSpan): WireSpan {
  return {
    name: span.name,
    kind: span.kind,
    context: span.spanContext(),
    ...(span.parentSpanContext ? { parentSpanContext: span.parentSpanContext } : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: span.attributes,
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

export function fromWire(w: WireSpan, resource: Resource): ReadableSpan {
  const { context, ...rest } = w;
  return { ...rest, resource, spanContext: () => context };
}
