/**
 * Tracing inside the engine thread (imported by engine-thread.ts). Only when the process's telemetry bootstrap
 * ran (it sets ENGINE_SPANS_ENV): a tracer provider whose spans go to the main thread over a BroadcastChannel.
 * Request-less spans (the warm-up) are dropped; spans of unsampled requests are recorded but not sampled, so the
 * main thread still derives step metrics from them and its processors skip them.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { trace, TraceFlags, type Context } from '@opentelemetry/api';
import { SamplingDecision, type ReadableSpan, type Sampler, type SamplingResult, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ENGINE_SPAN_CHANNEL, ENGINE_SPANS_ENV, toWire } from './span-wire.js';

class RequestOnlySampler implements Sampler {
  shouldSample(ctx: Context): SamplingResult {
    const parent = trace.getSpanContext(ctx);
    if (!parent || !trace.isSpanContextValid(parent)) return { decision: SamplingDecision.NOT_RECORD };
    return { decision: parent.traceFlags & TraceFlags.SAMPLED ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.RECORD };
  }
  toString(): string {
    return 'RequestOnlySampler';
  }
}

class ForwardingProcessor implements SpanProcessor {
  private readonly channel = new BroadcastChannel(ENGINE_SPAN_CHANNEL);
  constructor() {
    this.channel.unref();
  }
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.channel.postMessage(toWire(span));
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {
    this.channel.close();
  }
}

export function startEngineThreadTracing(): boolean {
  if (process.env[ENGINE_SPANS_ENV] !== '1') return false;
  // The main thread owns the propagator; here the W3C default of register() is what the carrier uses.
  new NodeTracerProvider({ sampler: new RequestOnlySampler(), spanProcessors: [new ForwardingProcessor()] }).register();
  return true;
}

startEngineThreadTracing();
