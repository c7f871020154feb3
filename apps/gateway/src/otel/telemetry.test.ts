/**
 * Two real processes with the telemetry bootstrap (`--import register.mjs`): the distributed gateway and a worker,
 * over a real redis-server on loopback. Each process exports its spans to an in-memory exporter mirrored to a
 * JSON-lines file; the test joins both files into one trace and scrapes both Prometheus endpoints.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FinishReason } from '@trine/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, collect, metadata, req, streamTokens } from '../../test/support/grpc.js';
import { spawnTs, type Proc } from '../../test/support/processes.js';
import { startRedis, type RedisServer } from '../../test/support/redis-server.js';

interface DumpedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  service: string;
}

const KIND = { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;
const gatewayBootstrap = fileURLToPath(new URL('./register.mjs', import.meta.url));
const workerBootstrap = fileURLToPath(new URL('../../../worker/src/otel/register.mjs', import.meta.url));

let redis: RedisServer;
let gw: Proc;
let worker: Proc;
let gwPort = 0;
let gwHttpPort = 0;
const metricsPorts: Record<'gateway' | 'worker', number> = { gateway: 0, worker: 0 };
const dir = mkdtempSync(join(tmpdir(), 'trine-otel-'));
const dumps = { gateway: join(dir, 'gateway.jsonl'), worker: join(dir, 'worker.jsonl') };

function spans(file: string): DumpedSpan[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DumpedSpan);
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  redis = await startRedis();
  // Loopback only: no OTLP export, spans go to the dump files, metrics to Prometheus on a free port.
  const common = { REDIS_URL: redis.url, TRINE_BACKEND: 'reference', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', TRINE_METRICS_LISTEN: '127.0.0.1:0' };
  gw = spawnTs('apps/gateway/src/main.ts', { ...common, NODE_OPTIONS: `--import ${gatewayBootstrap}`, TRINE_LISTEN: '127.0.0.1:0', TRINE_CACHE_TTL_MS: '0', TRINE_OTEL_SPAN_DUMP: dumps.gateway });
  worker = spawnTs('apps/worker/src/main.ts', { ...common, NODE_OPTIONS: `--import ${workerBootstrap}`, TRINE_MAX_BATCH: '4', TRINE_OTEL_SPAN_DUMP: dumps.worker });
  const [gl, gm, wm] = await Promise.all([gw.waitFor('gateway listening (NOT_SERVING until the tokenizer is loaded)'), gw.waitFor('metrics listening'), worker.waitFor('metrics listening')]);
  gwPort = Number(gl.port);
  gwHttpPort = Number(gl.httpPort);
  metricsPorts.gateway = Number(gm.port);
  metricsPorts.worker = Number(wm.port);
  await Promise.all([gw.waitFor('gateway serving'), worker.waitFor('worker ready')]);
}, 120_000);

afterAll(async () => {
  for (const p of [gw, worker]) {
    if (p && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await Promise.race([p.exited(), new Promise((r) => setTimeout(r, 5000))]);
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  }
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('telemetry across gateway and worker processes', () => {
  it('one trace from the gateway server span through the queue to the engine steps, with GenAI attributes and ids in logs', async () => {
    const c = client(gwPort);
    const msgs = await collect(c, req({ prompt: 'Once upon a time', maxTokens: 5, temperature: 0.7, topP: 0.9, seed: 42n }), metadata());
    c.close();
    const last = msgs.at(-1)!;
    const got = streamTokens(msgs);
    expect(last.done).toBe(true);

    // Spans are exported when they end (the server span ends after the last message): wait for both sides.
    const server = await until('the gateway server span', () => spans(dumps.gateway).find((s) => s.kind === KIND.SERVER && s.name.endsWith('/GenerateStream')));
    const all = await until('the worker span and decode steps', () => {
      const w = spans(dumps.worker);
      const done = w.some((s) => s.name === 'worker.generate') && w.filter((s) => s.name === 'trine.engine.decode_step').length >= got.ids.length - 1;
      return done ? [...spans(dumps.gateway), ...w] : undefined;
    });
    const byId = new Map(all.map((s) => [s.spanId, s]));
    const enqueue = all.find((s) => s.name === 'gateway.enqueue' && s.traceId === server.traceId)!;
    expect(enqueue.kind).toBe(KIND.PRODUCER);
    expect(enqueue.parentSpanId).toBe(server.spanId);
    // ioredis instrumentation (through the loader hook): the enqueue's Redis commands are its children.
    expect(all.some((s) => s.kind === KIND.CLIENT && s.parentSpanId === enqueue.spanId && s.service === 'trine-gateway')).toBe(true);

    const workerSpans = spans(dumps.worker).filter((s) => s.traceId === server.traceId);
    const consumer = workerSpans.find((s) => s.name === 'worker.generate')!;
    expect(consumer.kind).toBe(KIND.CONSUMER);
    expect(consumer.parentSpanId).toBe(enqueue.spanId);
    const prefill = workerSpans.filter((s) => s.name === 'trine.engine.prefill');
    const decode = workerSpans.filter((s) => s.name === 'trine.engine.decode_step');
    expect(prefill.length).toBeGreaterThanOrEqual(1);
    expect(decode.length).toBe(got.ids.length - 1);
    for (const s of [...prefill, ...decode]) {
      expect(s.attributes['trine.backend']).toBe('reference');
      expect(typeof s.attributes['trine.backend.variant']).toBe('string');
      expect(s.attributes['trine.batch.size']).toBe(1);
      expect(s.service).toBe('trine-worker');
    }
    // Every worker span's parent chain reaches the gateway's server span.
    for (const s of workerSpans) {
      let at: DumpedSpan | undefined = s;
      const seen = new Set<string>();
      while (at && at.spanId !== server.spanId && !seen.has(at.spanId)) {
        seen.add(at.spanId);
        at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined;
      }
      expect(at?.spanId, `${s.name} reaches the server span`).toBe(server.spanId);
    }

    const a = server.attributes;
    expect(a['gen_ai.operation.name']).toBe('text_completion');
    expect(a['gen_ai.request.max_tokens']).toBe(5);
    expect(a['gen_ai.request.temperature']).toBe(0.7);
    expect(a['gen_ai.request.top_p']).toBe(0.9);
    expect(a['gen_ai.request.seed']).toBe(42);
    expect(a['gen_ai.request.model']).toBe(last.model);
    expect(a['gen_ai.usage.output_tokens']).toBe(got.ids.length);
    expect(a['gen_ai.usage.input_tokens']).toBe(last.usage!.inputTokens);
    expect(a['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    const finish = { [FinishReason.FINISH_REASON_STOP]: 'stop', [FinishReason.FINISH_REASON_LENGTH]: 'length' }[last.finishReason as number];
    expect(a['gen_ai.response.finish_reasons']).toEqual([finish]);

    // Logs: the worker's line inside the job's span and the gateway's access log carry the trace.
    const jobLog = await worker.waitFor('job finished', 5000);
    expect(jobLog.trace_id).toBe(server.traceId);
    expect(jobLog.span_id).toBe(consumer.spanId);
    const access = await until('the access log', () => gw.logs.find((l) => l.msg === 'rpc' && l.method === 'GenerateStream'));
    expect(access.trace_id).toBe(server.traceId);
    expect(access.span_id).toBe(server.spanId);
  });

  it("the HTTP front's server span continues the caller's W3C traceparent and parents the enqueue", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await fetch(`http://127.0.0.1:${gwHttpPort}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 3, seed: 5, temperature: 0.5 }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { model: string; choices: { finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    const server = await until('the HTTP server span', () => spans(dumps.gateway).find((s) => s.kind === KIND.SERVER && s.traceId === traceId));
    expect(server.name).toBe('POST /v1/completions');
    expect(server.parentSpanId).toBe(callerSpan);
    // HTTP semconv, and the GenAI attributes the gRPC server span carries, from the same request and answer.
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/completions',
      'url.path': '/v1/completions',
      'http.response.status_code': 200,
      'gen_ai.operation.name': 'text_completion',
      'gen_ai.request.model': answer.model,
      'gen_ai.request.max_tokens': 3,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.seed': 5,
      'gen_ai.usage.input_tokens': answer.usage.prompt_tokens,
      'gen_ai.usage.output_tokens': answer.usage.completion_tokens,
      'gen_ai.response.finish_reasons': [answer.choices[0]!.finish_reason],
    });
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage.completion_tokens).toBeGreaterThan(0);
    const enqueue = await until('its enqueue span', () => spans(dumps.gateway).find((s) => s.name === 'gateway.enqueue' && s.traceId === traceId));
    expect(enqueue.parentSpanId).toBe(server.spanId);
    const consumer = await until('the worker span', () => spans(dumps.worker).find((s) => s.name === 'worker.generate' && s.traceId === traceId));
    expect(consumer.parentSpanId).toBe(enqueue.spanId);

    // A streamed chat of two choices without a traceparent: a trace of its own, operation chat, a finish reason per
    // choice and the output tokens of both (the usage chunk's count).
    const chat = await fetch(`http://127.0.0.1:${gwHttpPort}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, n: 2, seed: 1, stream: true, stream_options: { include_usage: true } }),
    });
    type Frame = { usage?: { completion_tokens: number } | null; choices: { index: number; finish_reason: string | null }[] };
    const frames = (await chat.text()).split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)) as Frame);
    const usage = frames.at(-1)!.usage!;
    const finishes = frames.flatMap((f) => f.choices.filter((c) => c.finish_reason).map((c) => [c.index, c.finish_reason] as const)).sort();
    expect(finishes.map(([i]) => i)).toEqual([0, 1]);
    const chatSpan = await until('the chat server span', () => spans(dumps.gateway).find((s) => s.kind === KIND.SERVER && s.name === 'POST /v1/chat/completions'));
    expect(chatSpan.parentSpanId).toBeUndefined();
    expect(chatSpan.attributes).toMatchObject({
      'http.route': '/v1/chat/completions',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.max_tokens': 4,
      'gen_ai.usage.output_tokens': usage.completion_tokens,
      'gen_ai.response.finish_reasons': finishes.map(([, r]) => r),
    });
  });

  it('serves the metrics on each process Prometheus endpoint', async () => {
    const scrape = async (port: number): Promise<string> => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
      expect(r.status).toBe(200);
      return r.text();
    };
    // A refused request, so a rejection reason has a non-zero count.
    const c = client(gwPort);
    await collect(c, req({ prompt: '' }), metadata()).catch(() => undefined);
    c.close();
    const gwText = await scrape(metricsPorts.gateway);
    const wkText = await scrape(metricsPorts.worker);
    const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    const value = (line: string | undefined): number => Number(line?.slice(line.lastIndexOf(' ') + 1));
    // Gateway: outcomes and rejections from GatewayMetrics, GenAI latency histograms, tokens, queue backlog by state.
    expect(value(series(gwText, 'trine_gateway_requests_total').find((l) => l.includes('status="completed"')))).toBeGreaterThanOrEqual(1);
    expect(value(series(gwText, 'trine_gateway_requests_received_total')[0])).toBeGreaterThanOrEqual(2);
    expect(value(series(gwText, 'trine_gateway_rejections_total').find((l) => l.includes('reason="validation"')))).toBeGreaterThanOrEqual(1);
    expect(series(gwText, 'trine_gateway_cache_lookups_total').length).toBe(2);
    for (const name of ['gen_ai_server_time_to_first_token_count', 'gen_ai_server_time_per_output_token_count', 'gen_ai_server_request_duration_count', 'trine_gateway_decode_rate_count'])
      expect(value(series(gwText, name)[0]), name).toBeGreaterThanOrEqual(1);
    expect(value(series(gwText, 'trine_gateway_tokens_total').find((l) => l.includes('gen_ai_token_type="output"')))).toBeGreaterThanOrEqual(1);
    expect(series(gwText, 'trine_gateway_rpc_requests_total').some((l) => l.includes('rpc_grpc_status_code="3"'))).toBe(true);
    for (const state of ['waiting', 'prioritized', 'delayed', 'active']) expect(series(gwText, 'trine_queue_jobs').some((l) => l.includes(`state="${state}"`)), state).toBe(true);
    // Worker: jobs by outcome, the chosen backend, engine steps (from the engine thread's spans).
    expect(value(series(wkText, 'trine_worker_jobs_total').find((l) => l.includes('outcome="done"')))).toBeGreaterThanOrEqual(1);
    expect(series(wkText, 'trine_worker_backend_info').some((l) => l.includes('backend="reference"'))).toBe(true);
    expect(value(series(wkText, 'trine_engine_batch_size_count').find((l) => l.includes('kind="decode"')))).toBeGreaterThanOrEqual(1);
    expect(value(series(wkText, 'trine_engine_step_duration_count').find((l) => l.includes('kind="prefill"')))).toBeGreaterThanOrEqual(1);
    // Every process: memory and event-loop lag.
    for (const text of [gwText, wkText]) {
      expect(value(series(text, 'trine_process_memory_rss')[0])).toBeGreaterThan(0);
      expect(value(series(text, 'trine_process_cpu_time_total').find((l) => l.includes('mode="user"')))).toBeGreaterThan(0);
      expect(value(series(text, 'trine_process_memory_heap_used')[0])).toBeGreaterThan(0);
      expect(series(text, 'trine_process_event_loop_lag').some((l) => l.includes('quantile="p99"'))).toBe(true);
    }
  });
});
