/**
 * The engine's step spans under a real tracer provider (in-process, reference backend): a step shared by several
 * requests (the prefill of requests that arrived together, a decode step) is a child of the oldest and links to all.
 */
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Engine, referenceBackendFactory } from '@trine/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let engine: Engine;

beforeAll(async () => {
  provider.register();
  engine = await Engine.load({ backend: referenceBackendFactory, maxBatch: 4 });
}, 60_000);

afterAll(async () => {
  await engine?.close();
  await provider.shutdown();
});

describe('engine step spans', () => {
  it('one prefill step for requests that arrive together, decode steps shared by the batch, linked to every request', async () => {
    const tracer = trace.getTracer('test');
    const parents = await Promise.all(
      [0, 1, 2].map((k) =>
        tracer.startActiveSpan(`request ${k}`, async (span) => {
          for await (const _ of engine.generate({ prompt: `request ${k}`, sampling: { maxTokens: 6, temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1, seed: k, stop: [], topLogprobs: 0 } })) {
            // drain
          }
          span.end();
          return span.spanContext();
        }),
      ),
    );
    const spans = exporter.getFinishedSpans();
    const ids = new Set(parents.map((p) => p.spanId));
    const prefill = spans.filter((s) => s.name === 'trine.engine.prefill');
    expect(prefill.length).toBe(1);
    expect(prefill[0]!.attributes['trine.batch.size']).toBe(3);
    const decode = spans.filter((s) => s.name === 'trine.engine.decode_step');
    expect(decode.length).toBeGreaterThan(0);
    for (const s of [...prefill, ...decode]) {
      expect(s.attributes['trine.backend']).toBe('reference');
      expect(s.attributes['trine.backend.variant']).toBe(engine.backendInfo.variant);
      expect(ids.has(s.parentSpanContext!.spanId)).toBe(true);
    }
    expect(prefill[0]!.links.map((l) => l.context.spanId).sort()).toEqual([...ids].sort());
    for (const s of decode) {
      const n = s.attributes['trine.batch.size'] as number;
      expect(s.links.length).toBe(n);
      expect(s.links.map((l) => l.context.spanId)).toContain(s.parentSpanContext!.spanId);
      for (const l of s.links) expect(ids.has(l.context.spanId)).toBe(true);
    }
    // The three requests overlap, so at least one step carried more than one of them.
    expect(Math.max(...decode.map((s) => s.attributes['trine.batch.size'] as number))).toBeGreaterThan(1);
  });
});
