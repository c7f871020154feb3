/**
 * The engine thread: owns the Engine (model, backend, batching). Loaded by EngineHost through worker_threads, so
 * decode steps never block the main thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import './otel/thread.js';
import { Redis } from 'ioredis';
import type { Engine } from '@trine/core';
import { describeSelection, loadEngine, parseBackendName } from '@trine/backends';
import type { EngineThreadOptions, FromThread, StreamItem, ToThread } from './engine-messages.js';
import { claimAttempt, RedisEventSink } from './redis-sink.js';
import type { StopReason } from './protocol.js';
import { piecesOf, withPieceBytes } from './piece-bytes.js';
import { runJob, type JobModel } from './runner.js';
import { toWireError } from './wire-error.js';

const port = parentPort;
if (!port) throw new Error('engine-thread must run in a worker thread');
const options = workerData as EngineThreadOptions;
const send = (m: FromThread): void => port.postMessage(m);

async function start(): Promise<Engine> {
  // @trine/backends' policy: TRINE_BACKEND forces one, else the measurement (cached per host), else by priority.
  const { engine, selection } = await loadEngine({
    ...(options.model !== undefined ? { model: options.model } : {}),
    settings: {
      ...(options.backend !== undefined ? { backend: parseBackendName(options.backend, 'TRINE_BACKEND'), forcedBy: 'TRINE_BACKEND' } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.lmHead !== undefined ? { lmHead: options.lmHead } : {}),
    },
    maxBatch: options.maxBatch,
    ...(options.context !== undefined ? { context: options.context } : {}),
  });
  // Warm-up: one real step before reporting ready (health stays NOT_SERVING until then).
  for await (const _ of engine.generate({
    prompt: 'warm-up',
    sampling: { maxTokens: 1, temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1, stop: [], topLogprobs: 0, seed: 0 },
  })) {
    // drain
  }
  const info = engine.model.backend.info;
  send({
    type: 'ready',
    info: {
      name: engine.modelName,
      contextLength: engine.config.context,
      vocabSize: engine.model.config.vocab,
      backend: info.name,
      backendVariant: info.variant,
      selection: selection.trials,
      selectionReason: describeSelection(selection),
    },
  });
  return engine;
}

const running = new Map<string, AbortController>();

// The items of one decode step leave in one message: a batch of 32 streams made 32 messages per step (each one a
// wake-up of the main thread). Flushed on the next tick, once every stream of the step has taken its token.
let outbox: StreamItem[] = [];
function emit(item: StreamItem): void {
  if (outbox.length === 0) process.nextTick(flush);
  outbox.push(item);
}
function flush(): void {
  const items = outbox;
  outbox = [];
  send({ type: 'events', items });
}

/** Runs `fn` in the request's trace context from the main thread: the engine's step spans become its children. */
function inTrace<T>(trace: Readonly<Record<string, string>> | undefined, fn: () => T): T {
  return context.with(propagation.extract(ROOT_CONTEXT, trace ?? {}), fn);
}

async function serve(engine: Engine, id: string, request: Extract<ToThread, { type: 'generate' }>['request']): Promise<void> {
  const ac = new AbortController();
  running.set(id, ac);
  try {
    for await (const event of engine.generate(request, ac.signal)) emit({ id, event: withPieceBytes(event, engine.tokenizer) });
  } catch (e) {
    emit({ id, error: toWireError(e) });
  } finally {
    running.delete(id);
  }
}

/**
 * Distributed mode: the thread runs queued jobs itself and appends their events to Redis on its own connection.
 * Tokens then leave from where they are made: relaying them through the main thread cost a wake-up of that thread
 * per step (1.1 ms of the first token's 4–5 ms on a 2-vCPU host). The main thread keeps BullMQ (locks, pickup).
 */
interface Queue {
  readonly redis: Redis;
  readonly sink: RedisEventSink;
  /** Running jobs by run id (a request may briefly run twice here: a lost lock's run winding down, and its retry). */
  readonly jobs: Map<number, AbortController>;
}
let queue: Queue | undefined;

function connect(rid: number, redisUrl: string): void {
  if (queue) return send({ type: 'connected', rid });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  // ioredis reconnects by itself; without a listener its errors would be reported as unhandled.
  redis.on('error', (e: Error) => send({ type: 'log', msg: 'redis error', fields: { error: e.message, thread: 'engine' } }));
  queue = { redis, sink: new RedisEventSink(redis), jobs: new Map() };
  redis.once('ready', () => send({ type: 'connected', rid }));
}

async function runQueued(engine: Engine, m: Extract<ToThread, { type: 'run' }>): Promise<void> {
  const { job } = m;
  if (!queue) return send({ type: 'ran', rid: m.rid, error: { code: 'INTERNAL', message: 'engine thread has no queue connection' } });
  const { redis, sink, jobs } = queue;
  const model: JobModel = {
    failure: undefined,
    generate: (request, signal) => (request.sampling.topLogprobs > 0 ? piecesOf(engine.generate(request, signal), engine.tokenizer) : engine.generate(request, signal)),
  };
  const ac = new AbortController();
  jobs.set(m.rid, ac);
  // Sent before the prompt starts, so its round trip overlaps the prefill.
  const attempt = claimAttempt(redis, job.requestId).then(({ attempt, cancelled }) => {
    if (cancelled) ac.abort('cancel' satisfies StopReason);
    return attempt;
  });
  try {
    const outcome = await runJob(model, job, sink, { attempt, workerId: m.workerId, signal: ac.signal });
    send({ type: 'ran', rid: m.rid, outcome, attempt: await attempt });
  } catch (e) {
    send({ type: 'ran', rid: m.rid, error: toWireError(e) });
  } finally {
    jobs.delete(m.rid);
  }
}

start().then(
  (engine) => {
    port.on('message', (m: ToThread) => {
      switch (m.type) {
        case 'generate':
          void inTrace(m.trace, () => serve(engine, m.id, m.request));
          break;
        case 'cancel':
          running.get(m.id)?.abort();
          break;
        case 'connect':
          connect(m.rid, m.redisUrl);
          break;
        case 'run':
          void inTrace(m.trace, () => runQueued(engine, m));
          break;
        case 'stop':
          queue?.jobs.get(m.rid)?.abort(m.reason);
          break;
        case 'prefixes':
          send({ type: 'prefixes', rid: m.rid, held: { ...engine.heldPrefixes(), hitTokens: engine.stats.prefixHitTokens } });
          break;
        case 'stats':
          send({ type: 'stats', rid: m.rid, stats: engine.stats });
          break;
        case 'tokenize':
          try {
            send({ type: 'tokenized', rid: m.rid, ids: engine.tokenize(m.text, { chat: m.chat }) });
          } catch (e) {
            send({ type: 'tokenized', rid: m.rid, error: toWireError(e) });
          }
          break;
        case 'close':
          for (const ac of running.values()) ac.abort();
          for (const ac of queue?.jobs.values() ?? []) ac.abort('shutdown' satisfies StopReason);
          void engine
            .close()
            .then(() => queue?.redis.quit())
            .catch(() => undefined)
            .finally(() => send({ type: 'closed' }));
          break;
      }
    });
  },
  (e: unknown) => send({ type: 'fatal', error: toWireError(e) }),
);
