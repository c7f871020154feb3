/**
 * The OpenAI-compatible HTTP front against a running standalone gateway, driven by the real `openai` SDK and by
 * raw HTTP over loopback: the same tokens as gRPC for the same seed (one pipeline, two fronts), OpenAI's typed
 * errors with the right statuses, and the transport's own refusals (400/413/415) and clean-ups.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayServer, LocalJobQueue, SingleModelCatalog, gatewayConfig, startStandalone, type Running } from '../src/index.js';
import { client, generate, metadata, req } from './support/grpc.js';

let open: Running; // auth off, no cache: HTTP and gRPC each generate
let strict: Running; // keys, a rate limit of 3 a minute, a blocklist, and a queue that admits nothing

const sdk = (r: Running, apiKey = 'none') => new OpenAI({ baseURL: `http://127.0.0.1:${r.server.httpPort}/v1`, apiKey, maxRetries: 0 });
const url = (r: Running, path: string): string => `http://127.0.0.1:${r.server.httpPort}${path}`;
const post = (r: Running, path: string, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(url(r, path), { method: 'POST', body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]), headers });

beforeAll(async () => {
  const base = { TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '4' };
  [open, strict] = await Promise.all([
    startStandalone({ ...base, TRINE_CACHE_TTL_MS: '0' }),
    startStandalone({ ...base, TRINE_API_KEYS: 'k1,k2,k3', TRINE_RATE_LIMIT: '3/60', TRINE_MAX_QUEUE: '0', TRINE_POLICY_BLOCKLIST: 'forbiddenword' }),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all([open?.stop(500), strict?.stop(500)]);
});

const chat = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Tell me about the sea.' },
];

describe('the same tokens as gRPC for the same seed', () => {
  it('chat completions, non-streamed and streamed, through the chat template', async () => {
    const grpc = await generate(client(open.port), req({ messages: chat, maxTokens: 24, temperature: 0.9, seed: 7n, topLogprobs: 1 }));
    const ai = sdk(open);
    const whole = await ai.chat.completions.create({ model: '', messages: chat, max_tokens: 24, temperature: 0.9, seed: 7, logprobs: true });
    expect(whole.choices[0]!.message.content).toBe(grpc.text);
    expect(whole.choices[0]!.logprobs!.content!.map((t) => t.token)).toEqual(grpc.tokens.map((t) => t.text));
    expect(whole.usage).toEqual({ prompt_tokens: grpc.usage!.inputTokens, completion_tokens: grpc.usage!.outputTokens, total_tokens: grpc.usage!.inputTokens + grpc.usage!.outputTokens });
    expect(whole.choices[0]!.finish_reason).toBe('length');
    expect(whole.model).toBe(grpc.model);

    const stream = await ai.chat.completions.create({ messages: chat, model: '', max_completion_tokens: 24, temperature: 0.9, seed: 7, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usage = chunk.usage;
      expect(chunk.model).toBe(grpc.model);
    }
    expect(text).toBe(grpc.text);
    expect(finishes.at(-1)).toBe('length');
    expect(usage?.completion_tokens).toBe(grpc.usage!.outputTokens);
    // One pipeline, counted at its seam by the front that received each request.
    expect(open.server.metrics.received.grpc).toBeGreaterThanOrEqual(1);
    expect(open.server.metrics.received.http).toBeGreaterThanOrEqual(2);
  });

  it('completions, non-streamed and streamed, with stop strings and vLLM sampling extensions', async () => {
    const grpc = await generate(client(open.port), req({ prompt: 'Once upon a time', maxTokens: 20, temperature: 0.7, topK: 20, repetitionPenalty: 1.1, seed: 3n }));
    const ai = sdk(open);
    const body = { model: '', prompt: 'Once upon a time', max_tokens: 20, temperature: 0.7, seed: 3, top_k: 20, repetition_penalty: 1.1 };
    const whole = await ai.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
    expect(whole.choices[0]!.text).toBe(grpc.text);
    expect(whole.usage?.completion_tokens).toBe(grpc.usage!.outputTokens);
    let text = '';
    for await (const chunk of await ai.completions.create({ ...body, stream: true } as OpenAI.CompletionCreateParamsStreaming)) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(grpc.text);

    // A stop string taken from the answer ends it there, as on gRPC.
    const stop = grpc.text.slice(4, 7);
    const stopped = await generate(client(open.port), req({ prompt: 'Once upon a time', maxTokens: 20, temperature: 0.7, topK: 20, repetitionPenalty: 1.1, seed: 3n, stop: [stop] }));
    const viaHttp = await ai.completions.create({ ...body, stop } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(viaHttp.choices[0]!.text).toBe(stopped.text);
    expect(viaHttp.choices[0]!.finish_reason).toBe('stop');
  });

  it('lists the served model', async () => {
    const models = await sdk(open).models.list();
    expect(models.data.map((m) => m.id)).toEqual([open.host!.info.name]);
  });
});

describe("refusals arrive as the SDK's typed errors", () => {
  it('a missing or unknown key is 401', async () => {
    await expect(sdk(strict, 'wrong').chat.completions.create({ model: '', messages: chat })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const res = await post(strict, '/v1/completions', JSON.stringify({ prompt: 'x' }));
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatchObject({ type: 'authentication_error', param: 'authorization' });
  });

  it('a bad parameter is 400 naming it; an unsupported control is refused, not ignored', async () => {
    const ai = sdk(open);
    const bad = async (body: Record<string, unknown>) => {
      const e = await ai.chat.completions.create({ model: '', messages: chat, ...body } as never).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      return (e as InstanceType<typeof OpenAI.BadRequestError>).param;
    };
    expect(await bad({ temperature: -1 })).toBe('temperature');
    expect(await bad({ temperature: 'hot' })).toBe('temperature');
    expect(await bad({ top_p: 0 })).toBe('top_p');
    expect(await bad({ max_completion_tokens: 100_000 })).toBe('max_completion_tokens');
    expect(await bad({ seed: -1 })).toBe('seed');
    expect(await bad({ stop: [1] })).toBe('stop[0]');
    expect(await bad({ n: 17 })).toBe('n');
    expect(await bad({ n: 2, seed: Number.MAX_SAFE_INTEGER })).toBe('seed');
    expect(await bad({ best_of: 2 })).toBe('best_of');
    expect(await bad({ presence_penalty: 2.5 })).toBe('presence_penalty');
    expect(await bad({ frequency_penalty: -3 })).toBe('frequency_penalty');
    expect(await bad({ min_p: 1.5 })).toBe('min_p');
    expect(await bad({ typical_p: 0 })).toBe('typical_p');
    expect(await bad({ ignore_eos: 'yes' })).toBe('ignore_eos');
    expect(await bad({ logit_bias: { 5: 200 } })).toBe('logit_bias[5]');
    expect(await bad({ logit_bias: { five: 1 } })).toBe('logit_bias[five]');
    expect(await bad({ logit_bias: { 1000000: 1 } })).toBe('logit_bias[1000000]');
    expect(await bad({ logit_bias: Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [i, 1])) })).toBe('logit_bias');
    expect(await bad({ messages: [{ role: 'tool', content: 'x' }] })).toBe('messages[0].role');
    expect(await bad({ model: 'no-such-model' })).toBe('model');
    // Neutral values of those controls and unknown fields are fine.
    await expect(ai.chat.completions.create({ model: '', messages: chat, max_tokens: 2, n: 1, presence_penalty: 0, user: 'u', some_future_field: true } as never)).resolves.toBeTruthy();
  });

  it('rate limiting is 429 with Retry-After; a full queue is 503', async () => {
    const ai = sdk(strict, 'k1');
    // The queue admits nothing, so the first three (within the limit) are overloaded and the fourth rate limited.
    for (let i = 0; i < 3; i++) {
      const e = await ai.completions.create({ model: '', prompt: 'x', max_tokens: 1 }).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.InternalServerError);
      expect((e as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    }
    const e = (await ai.completions.create({ model: '', prompt: 'x', max_tokens: 1 }).then(() => undefined, (x: unknown) => x)) as InstanceType<typeof OpenAI.APIError>;
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
    // Another key has its own budget.
    const other = await sdk(strict, 'k2').completions.create({ model: '', prompt: 'x', max_tokens: 1 }).then(() => undefined, (x: unknown) => x);
    expect(other).toBeInstanceOf(OpenAI.InternalServerError);
  });
});

describe('content policy', () => {
  it('a blocked prompt is 403 before it is queued', async () => {
    const e = await sdk(strict, 'k3').chat.completions.create({ model: '', messages: [{ role: 'user', content: 'say forbiddenword' }] }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((e as InstanceType<typeof OpenAI.APIError>).type).toBe('permission_error');
  });
});

describe('raw HTTP', () => {
  it('streams server-sent events as curl -N shows them', async () => {
    const res = await post(open, '/v1/chat/completions', JSON.stringify({ messages: chat, max_tokens: 6, seed: 1, stream: true, stream_options: { include_usage: true } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    expect(text).toMatch(/^(data: \{.*\}\n\n)+data: \[DONE\]\n\n$/);
    const chunks = text.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage.completion_tokens).toBe(6);
    // A chunk per token, as OpenAI streams them: the role chunk, six tokens, the finish chunk, the usage chunk.
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeLessThanOrEqual(6);
    expect(chunks.length).toBe(1 + 6 + 1 + 1);
  });

  it('refuses what is not a request: malformed JSON, invalid UTF-8, a lone surrogate, another content type, a 10 MB body', async () => {
    const malformed = await post(open, '/v1/completions', '{"prompt": "x"');
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error.type).toBe('invalid_request_error');
    const invalid = await post(open, '/v1/completions', Buffer.concat([Buffer.from('{"prompt": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
    expect(invalid.status).toBe(400);
    const surrogate = await post(open, '/v1/completions', '{"prompt": "a\\ud800b"}');
    expect(surrogate.status).toBe(400);
    expect((await surrogate.json()).error.param).toBe('prompt');
    const notJson = await post(open, '/v1/completions', 'prompt=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(notJson.status).toBe(415);
    const notObject = await post(open, '/v1/completions', '[1, 2]');
    expect(notObject.status).toBe(400);
    expect(await rawStatus(open, '/v1/completions', Buffer.alloc(10 << 20, 0x20))).toBe(413);
    expect(await rawStatus(open, '/v1/completions', Buffer.alloc(10 << 20, 0x20), true)).toBe(413);
    expect((await fetch(url(open, '/v1/nothing'))).status).toBe(404);
    expect((await fetch(url(open, '/v1/completions'))).status).toBe(405);
    // And the server keeps serving.
    expect((await sdk(open).completions.create({ model: '', prompt: 'x', max_tokens: 2 })).usage?.completion_tokens).toBe(2);
  });

  it('a client that reads slowly gets the whole stream', async () => {
    const { res, body } = await streamRequest(open, { prompt: 'The sea', max_tokens: 40, stream: true });
    res.pause(); // nothing read while the server writes; back-pressure holds the relay
    await new Promise((r) => setImmediate(r));
    res.resume();
    expect(await body).toMatch(/data: \[DONE\]\n\n$/);
  });

  it('health is ready exactly while gRPC health says SERVING', async () => {
    const queue = new LocalJobQueue(open.host!, 1);
    const server = new GatewayServer(gatewayConfig({ TRINE_LISTEN: '127.0.0.1:0' }), { queue });
    await server.listen();
    const health = () => fetch(`http://127.0.0.1:${server.httpPort}/health`).then((r) => r.status);
    expect(await health()).toBe(503);
    server.ready(new SingleModelCatalog(open.host!));
    expect(await health()).toBe(200);
    const closing = server.shutdown(500);
    await closing;
    await expect(health()).rejects.toThrow();
  });
});

describe('a client that vanishes mid-stream', () => {
  it('cancels its job: open streams and running jobs back to 0, and the server keeps serving', async () => {
    const queue = new LocalJobQueue(open.host!, 2);
    const server = new GatewayServer(gatewayConfig({ TRINE_LISTEN: '127.0.0.1:0', TRINE_CACHE_TTL_MS: '0' }), { queue });
    await server.listen();
    server.ready(new SingleModelCatalog(open.host!));
    try {
      const r = { server } as unknown as Running;
      const { res } = await streamRequest(r, { prompt: 'The sea', max_tokens: 200, stream: true });
      await new Promise<void>((resolve) => res.once('data', () => resolve()));
      expect(server.http!.openStreams).toBe(1);
      res.destroy();
      await vi.waitFor(async () => {
        expect(server.http!.openStreams).toBe(0);
        expect(await queue.depth()).toBe(0);
        expect(server.metrics.cancelled).toBe(1);
      }, { timeout: 20_000, interval: 20 });
      const after = await sdk(r).completions.create({ model: '', prompt: 'x', max_tokens: 3 });
      expect(after.usage?.completion_tokens).toBe(3);
    } finally {
      await server.shutdown(500);
    }
  });
});

/** POSTs `body` with http.request (so a refused upload's status is read even though the body is not): chunked or with a length. */
function rawStatus(r: Running, path: string, body: Buffer, chunked = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const q = httpRequest(url(r, path), { method: 'POST', headers: { 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': body.length }) } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    // The server may close before the whole upload went: the status already came (or the error says why not).
    q.on('error', (e) => setTimeout(() => reject(e), 1000).unref());
    if (chunked) {
      for (let i = 0; i < body.length; i += 1 << 16) q.write(body.subarray(i, i + (1 << 16)));
      q.end();
    } else q.end(body);
  });
}

/** A streamed request over http.request: its response (to pause or destroy) and the whole body once it ends. */
function streamRequest(r: Running, body: Record<string, unknown>): Promise<{ res: IncomingMessage; body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const q = httpRequest(url(r, '/v1/completions'), { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const text = new Promise<string>((done) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (s += d));
        res.on('end', () => done(s));
      });
      resolve({ res, body: text });
    });
    q.on('error', reject);
    q.end(JSON.stringify(body));
  });
}
