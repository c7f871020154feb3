/**
 * The engine thread: owns the Engine (model, backend, batching). Loaded by EngineHost through worker_threads, so
 * decode steps never block the main thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import './otel/thread.js';
import { Engine, registerBackend, type BackendFactory } from '@trine/core';
import type { EngineThreadOptions, FromThread, StreamItem, ToThread } from './engine-messages.js';
import { chooseBackend, probeBackends } from './select-backend.js';
import { toWireError } from './wire-error.js';

const port = parentPort;
if (!port) throw new Error('engine-thread must run in a worker thread');
const options = workerData as EngineThreadOptions;
const send = (m: FromThread): void => port.postMessage(m);

function load(factory: BackendFactory, maxBatch: number, context?: number): Promise<Engine> {
  registerBackend(factory);
  return Engine.load({
    ...(options.model !== undefined ? { model: options.model } : {}),
    backend: factory.name,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    maxBatch,
    ...(context !== undefined ? { context } : {}),
  });
}

async function start(): Promise<Engine> {
  const forced = options.backend;
  // A forced backend is the only one probed (no time spent loading the others).
  const candidates = await probeBackends(forced);
  const { chosen, trials } = await chooseBackend(
    candidates,
    async (factory) => {
      const engine = await load(factory, 1, 64);
      return { generator: engine, close: () => engine.close() };
    },
    forced,
  );
  const engine = await load(chosen.factory!, options.maxBatch, options.context);
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
      selection: trials,
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

async function serve(engine: Engine, id: string, request: Extract<ToThread, { type: 'generate' }>['request'], trace: Readonly<Record<string, string>> = {}): Promise<void> {
  // The request's trace context from the main thread: the engine's step spans become its children.
  return context.with(propagation.extract(ROOT_CONTEXT, trace), () => serveIn(engine, id, request));
}

async function serveIn(engine: Engine, id: string, request: Extract<ToThread, { type: 'generate' }>['request']): Promise<void> {
  const ac = new AbortController();
  running.set(id, ac);
  try {
    for await (const event of engine.generate(request, ac.signal)) emit({ id, event });
  } catch (e) {
    emit({ id, error: toWireError(e) });
  } finally {
    running.delete(id);
  }
}

start().then(
  (engine) => {
    port.on('message', (m: ToThread) => {
      switch (m.type) {
        case 'generate':
          void serve(engine, m.id, m.request, m.trace);
          break;
        case 'cancel':
          running.get(m.id)?.abort();
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
          void engine.close().finally(() => send({ type: 'closed' }));
          break;
      }
    });
  },
  (e: unknown) => send({ type: 'fatal', error: toWireError(e) }),
);
