import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, genAiRequestAttributes, genAiResponseAttributes } from './index.js';

/** A synchronous context manager: enough for `context.with` in a test (the SDK's uses AsyncLocalStorage). */
class StackContextManager implements ContextManager {
  private stack: Context[] = [];
  active(): Context {
    return this.stack.at(-1) ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    this.stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.stack = [];
    return this;
  }
}

beforeAll(() => void context.setGlobalContextManager(new StackContextManager()));
afterAll(() => context.disable());

describe('createLogger', () => {
  it('writes one JSON line carrying the active span ids, and none outside a span', () => {
    const lines: string[] = [];
    const log = createLogger('svc-a', { write: (l) => lines.push(l), now: () => new Date(0) });
    const sc = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    context.with(trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(sc)), () => log('inside', { n: 1, big: 2n }));
    log.warn('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inside).toEqual({ time: '1970-01-01T00:00:00.000Z', level: 'info', svc: 'svc-a', msg: 'inside', n: 1, big: '2', trace_id: sc.traceId, span_id: sc.spanId });
    expect(outside!.level).toBe('warn');
    expect(outside).not.toHaveProperty('trace_id');
  });
});

describe('GenAI attributes', () => {
  it('sets only what the request carries; seeds become numbers; finish reasons an array', () => {
    expect(genAiRequestAttributes({ operation: 'chat', model: 'm', maxTokens: 8, seed: 42n })).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'trine',
      'gen_ai.request.model': 'm',
      'gen_ai.request.max_tokens': 8,
      'gen_ai.request.seed': 42,
    });
    expect(genAiResponseAttributes({ inputTokens: 3, outputTokens: 5, finishReasons: ['length'] })).toEqual({
      'gen_ai.usage.input_tokens': 3,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.response.finish_reasons': ['length'],
    });
  });
});
