/**
 * The instrument registry: every Trine instrument is created here from a Meter (any MeterProvider; the apps register
 * the SDK's). Observable instruments take callbacks that read counts the apps already keep, so nothing is counted
 * twice.
 */
import type { Attributes, Counter, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { METRIC, QUEUE_STATES } from './names.js';

/** Seconds: 1 ms … 60 s (TTFT and request durations of a CPU model span this range). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds per output token: 0.1 ms … 2.5 s. */
const PER_TOKEN_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const RATE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export interface RequestInstruments {
  readonly rpcRequests: Counter;
  readonly requestDuration: Histogram;
  readonly timeToFirstToken: Histogram;
  readonly timePerOutputToken: Histogram;
  readonly tokens: Counter;
  readonly decodeRate: Histogram;
}

/** What a generation request records when it ends (gateway side). */
export function requestInstruments(meter: Meter): RequestInstruments {
  return {
    rpcRequests: meter.createCounter(METRIC.rpcRequests, { description: 'gRPC calls by method and status code' }),
    requestDuration: meter.createHistogram(METRIC.requestDuration, {
      unit: 's',
      description: 'Generation request duration, accepted to last token',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    timeToFirstToken: meter.createHistogram(METRIC.timeToFirstToken, {
      unit: 's',
      description: 'Time to first token (gateway clock, includes queueing)',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    timePerOutputToken: meter.createHistogram(METRIC.timePerOutputToken, {
      unit: 's',
      description: 'Decode time per output token after the first',
      advice: { explicitBucketBoundaries: PER_TOKEN_BUCKETS },
    }),
    tokens: meter.createCounter(METRIC.tokens, { unit: '{token}', description: 'Tokens processed, by gen_ai.token.type (input|output)' }),
    decodeRate: meter.createHistogram(METRIC.decodeRate, {
      unit: '{token}/s',
      description: 'Output tokens per second of decode, per request',
      advice: { explicitBucketBoundaries: RATE_BUCKETS },
    }),
  };
}

export interface EngineInstruments {
  readonly batchSize: Histogram;
  readonly stepDuration: Histogram;
}

export function engineInstruments(meter: Meter): EngineInstruments {
  return {
    batchSize: meter.createHistogram(METRIC.batchSize, {
      unit: '{sequence}',
      description: 'Sequences per engine step (decode steps carry the whole batch; prefill chunks one sequence)',
      advice: { explicitBucketBoundaries: BATCH_BUCKETS },
    }),
    stepDuration: meter.createHistogram(METRIC.stepDuration, {
      unit: 's',
      description: 'Engine step duration by step kind (prefill|decode)',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
  };
}

/** Observes a set of counts under one counter name, one series per label value (fixed label sets only). */
export function observeCounts(meter: Meter, name: string, description: string, label: string, read: () => Record<string, number>, extra: Attributes = {}): void {
  meter.createObservableCounter(name, { description }).addCallback((r: ObservableResult) => {
    for (const [k, v] of Object.entries(read())) r.observe(v, { ...extra, [label]: k });
  });
}

/** Queue backlog by BullMQ state, read at collection time (one Redis round trip per scrape). */
export function observeQueue(meter: Meter, counts: () => Promise<Record<string, number>>): void {
  const gauge = meter.createObservableGauge(METRIC.queueJobs, { unit: '{job}', description: 'Jobs in the inference queue by state' });
  let last: Record<string, number> | undefined;
  // Observable callbacks may be async in the SDK, but a slow Redis must not stall a scrape: answer with the
  // previous reading and refresh in the background when the round trip takes longer than 1 s.
  gauge.addCallback(async (r) => {
    const fresh = counts().then((c) => (last = c));
    fresh.catch(() => undefined);
    await Promise.race([fresh, new Promise((res) => setTimeout(res, 1000).unref())]).catch(() => undefined);
    if (!last) return;
    for (const s of QUEUE_STATES) r.observe(last[s] ?? 0, { state: s });
  });
}

/** The engine counters a process exports (core's EngineStats has them). */
export interface EngineCounters {
  readonly prefixHitTokens: number;
  readonly prefixHeldBytes: number;
  readonly draftedTokens: number;
  readonly acceptedTokens: number;
}

/**
 * Prefix-cache and prompt-lookup counters, read once per collection from the engine (a message to its thread). A
 * thread busy with a long step must not stall a scrape: after 1 s the previous reading is reported.
 */
export function observeEngine(meter: Meter, read: () => Promise<EngineCounters>): void {
  const hits = meter.createObservableCounter(METRIC.prefixCacheHitTokens, { unit: '{token}', description: 'Prompt positions served from the prefix cache instead of prefilled' });
  const held = meter.createObservableGauge(METRIC.prefixCacheHeldBytes, { unit: 'By', description: 'KV bytes the free slots hold for reuse by later prompts' });
  const lookup = meter.createObservableCounter(METRIC.promptLookupTokens, { unit: '{token}', description: 'Prompt-lookup tokens by kind (drafted, accepted)' });
  let last: EngineCounters | undefined;
  meter.addBatchObservableCallback(async (r) => {
    const fresh = read().then((c) => (last = c));
    fresh.catch(() => undefined);
    await Promise.race([fresh, new Promise((res) => setTimeout(res, 1000).unref())]).catch(() => undefined);
    if (!last) return;
    r.observe(hits, last.prefixHitTokens);
    r.observe(held, last.prefixHeldBytes);
    r.observe(lookup, last.draftedTokens, { kind: 'drafted' });
    r.observe(lookup, last.acceptedTokens, { kind: 'accepted' });
  }, [hits, held, lookup]);
}

/** The chosen backend as an info gauge (value 1, identity in labels). */
export function observeBackend(meter: Meter, info: () => { backend: string; variant: string } | undefined): void {
  meter.createObservableGauge(METRIC.backendInfo, { description: 'The kernel backend this worker chose (value 1)' }).addCallback((r) => {
    const i = info();
    if (i) r.observe(1, { backend: i.backend, variant: i.variant });
  });
}

/** Process memory and event-loop lag, for every Trine process. Returns a stop function. */
export function observeProcess(meter: Meter): () => void {
  // CPU seconds by mode; rate() of the sum is the cores this process keeps busy (engine threads included).
  meter.createObservableCounter(METRIC.cpuTime, { unit: 's', description: 'CPU time used by the process, by mode' }).addCallback((r) => {
    const u = process.cpuUsage();
    r.observe(u.user / 1e6, { mode: 'user' });
    r.observe(u.system / 1e6, { mode: 'system' });
  });
  meter.createObservableGauge(METRIC.memoryRss, { unit: 'By', description: 'Resident set size' }).addCallback((r) => r.observe(process.memoryUsage.rss()));
  const heap = (pick: (m: NodeJS.MemoryUsage) => number) => (r: ObservableResult) => r.observe(pick(process.memoryUsage()));
  meter.createObservableGauge(METRIC.memoryHeapUsed, { unit: 'By', description: 'V8 heap used' }).addCallback(heap((m) => m.heapUsed));
  meter.createObservableGauge(METRIC.memoryHeapTotal, { unit: 'By', description: 'V8 heap allocated' }).addCallback(heap((m) => m.heapTotal));
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  // Quantiles since the previous collection (reset after each), so a spike shows in the next scrape and then clears.
  meter.createObservableGauge(METRIC.eventLoopLag, { unit: 's', description: 'Event-loop delay since the previous collection, by quantile' }).addCallback((r) => {
    if (lag.count === 0) return;
    r.observe(lag.percentile(50) / 1e9, { quantile: 'p50' });
    r.observe(lag.percentile(99) / 1e9, { quantile: 'p99' });
    r.observe(lag.max / 1e9, { quantile: 'max' });
    lag.reset();
  });
  return () => lag.disable();
}
