/**
 * The OpenTelemetry SDK for a Trine process (gateway, worker, standalone), configured by the standard OTEL_*
 * variables plus TRINE_METRICS_LISTEN. Started by the `--import` bootstrap (register.mjs) before the app loads, so
 * the gRPC and ioredis instrumentations can hook their modules. Libraries only use @opentelemetry/api.
 *
 * - Traces: OTLP (BatchSpanProcessor) when an OTLP endpoint is set and OTEL_TRACES_EXPORTER is not `none`.
 * - Metrics: Prometheus on TRINE_METRICS_LISTEN (`off` disables), and OTLP when an endpoint is set and
 *   OTEL_METRICS_EXPORTER is not `none`.
 * - Engine-thread spans arrive over a BroadcastChannel and go through the same processors; decode/prefill steps
 *   also feed the batch-size and step-duration histograms.
 * - TRINE_OTEL_SPAN_DUMP (tests): an in-memory exporter that also appends each exported span to this JSON-lines file.
 */
import { appendFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { BroadcastChannel, isMainThread } from 'node:worker_threads';
import { metrics, type Meter } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, InMemorySpanExporter, NoopSpanProcessor, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { activeTelemetry, ATTR, createLogger, engineInstruments, observeProcess, setActiveTelemetry, SPAN, type TelemetryHandle } from '@trine/telemetry';
import { ENGINE_SPAN_CHANNEL, ENGINE_SPANS_ENV, fromWire, type WireSpan } from './span-wire.js';

export interface TelemetryOptions {
  /** service.name unless OTEL_SERVICE_NAME is set. */
  readonly service: string;
  /** TRINE_METRICS_LISTEN's default for this kind of process (`host:port`). */
  readonly defaultMetricsListen: string;
  readonly env?: NodeJS.ProcessEnv;
  /** ioredis command spans (default true). The worker turns them off: it writes one XADD per token. */
  readonly redisSpans?: boolean;
}

export interface Telemetry extends TelemetryHandle {
  readonly serviceName: string;
  readonly meter: Meter;
  /** The Prometheus endpoint's bound port, once listening (undefined: disabled or the bind failed). */
  readonly metricsPort: Promise<number | undefined>;
}


/** In-memory exporter that mirrors every exported span to a JSON-lines file, so a test can read a child's spans. */
class DumpExporter extends InMemorySpanExporter {
  constructor(private readonly path: string) {
    super();
  }
  override export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    super.export(spans, () => undefined);
    try {
      const lines = spans.map((s) =>
        JSON.stringify({
          name: s.name,
          kind: s.kind,
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          attributes: s.attributes,
          links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
          status: s.status,
          service: s.resource.attributes['service.name'],
          durationMs: hrTimeToMilliseconds(s.duration),
        }),
      );
      appendFileSync(this.path, lines.map((l) => `${l}\n`).join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (e) {
      done({ code: ExportResultCode.FAILED, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
}

function otlpWanted(env: NodeJS.ProcessEnv, signal: 'TRACES' | 'METRICS'): boolean {
  const chosen = env[`OTEL_${signal}_EXPORTER`];
  if (chosen !== undefined && chosen !== '' && !chosen.split(',').map((s) => s.trim()).includes('otlp')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]);
}

/** `host:port`, `[v6]:port` or `port`; `off`/`none`/empty disables. */
export function parseListen(v: string): { host: string; port: number } | undefined {
  if (v === '' || v === 'off' || v === 'none') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`TRINE_METRICS_LISTEN: expected host:port, port or 'off', got '${v}'`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function serveMetrics(exporter: PrometheusExporter, at: { host: string; port: number }, log: ReturnType<typeof createLogger>): { server: Server; port: Promise<number | undefined> } {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) exporter.getMetricsRequestHandler(req, res);
    else {
      res.statusCode = 404;
      res.end('not found: the metrics are at /metrics\n');
    }
  });
  const port = new Promise<number | undefined>((resolve) => {
    server.once('error', (e) => {
      // Metrics must never take the service down: log and serve without them.
      log.error('metrics endpoint failed', { error: e.message, host: at.host, port: at.port });
      resolve(undefined);
    });
    server.listen(at.port, at.host, () => {
      const a = server.address();
      const bound = typeof a === 'object' && a ? a.port : at.port;
      log('metrics listening', { host: at.host, port: bound, path: '/metrics' });
      resolve(bound);
    });
  });
  server.unref();
  return { server, port };
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const existing = activeTelemetry<Telemetry>();
  if (existing) return existing;
  // One SDK per process, in the main thread; worker threads forward their spans to it (thread.ts).
  if (!isMainThread) throw new Error('startTelemetry runs in the main thread; worker threads use otel/thread.ts');
  const env = options.env ?? process.env;
  const serviceName = env.OTEL_SERVICE_NAME || options.service;
  const log = createLogger(serviceName);

  const spanProcessors: SpanProcessor[] = [];
  if (env.TRINE_OTEL_SPAN_DUMP) spanProcessors.push(new SimpleSpanProcessor(new DumpExporter(env.TRINE_OTEL_SPAN_DUMP)));
  if (otlpWanted(env, 'TRACES')) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  // Without a processor NodeSDK registers no tracer provider, and trace ids (logs, the job's traceparent) vanish.
  if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());

  const metricReaders: MetricReader[] = [];
  const listen = parseListen(env.TRINE_METRICS_LISTEN ?? options.defaultMetricsListen);
  let prometheus: { server: Server; port: Promise<number | undefined> } | undefined;
  if (listen) {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    metricReaders.push(exporter);
    prometheus = serveMetrics(exporter, listen, log);
  }
  if (otlpWanted(env, 'METRICS')) {
    const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL) || 60_000;
    metricReaders.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: interval }));
  }

  const sdk = new NodeSDK({
    serviceName,
    spanProcessors,
    metricReaders,
    logRecordProcessors: [],
    instrumentations: [
      new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch', 'ServerReflectionInfo'] }),
      // BullMQ polls Redis all the time: only commands inside a request's trace become spans.
      ...(options.redisSpans === false ? [] : [new IORedisInstrumentation({ requireParentSpan: true })]),
    ],
  });
  sdk.start();
  const meter = metrics.getMeter('@trine/telemetry');
  const stopProcess = observeProcess(meter);

  // Engine-thread spans: export them here and turn steps into metrics.
  process.env[ENGINE_SPANS_ENV] = '1';
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': serviceName }));
  const engine = engineInstruments(meter);
  const channel = new BroadcastChannel(ENGINE_SPAN_CHANNEL);
  channel.unref();
  channel.onmessage = (ev) => {
    const span = fromWire((ev as unknown as { data: WireSpan }).data, resource);
    const kind = span.name === SPAN.decodeStep ? 'decode' : span.name === SPAN.prefill ? 'prefill' : undefined;
    if (kind) {
      const attrs = { kind, backend: String(span.attributes[ATTR.backend] ?? ''), variant: String(span.attributes[ATTR.backendVariant] ?? '') };
      engine.batchSize.record(Number(span.attributes[ATTR.batchSize] ?? 0), attrs);
      engine.stepDuration.record(hrTimeToMilliseconds(span.duration) / 1000, attrs);
    }
    for (const p of spanProcessors) p.onEnd(span);
  };

  const telemetry: Telemetry = {
    serviceName,
    meter,
    metricsPort: prometheus?.port ?? Promise.resolve(undefined),
    async flush() {
      await Promise.all(spanProcessors.map((p) => p.forceFlush()));
      await Promise.all(metricReaders.map((r) => r.forceFlush().catch(() => undefined)));
    },
    async shutdown() {
      channel.close();
      stopProcess();
      prometheus?.server.close();
      await sdk.shutdown().catch(() => undefined);
    },
  };
  setActiveTelemetry(telemetry);
  return telemetry;
}
