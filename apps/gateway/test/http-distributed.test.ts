/**
 * The HTTP front of the distributed gateway: Redis, a worker process and the gateway, all real, driven by the
 * `openai` SDK. The same text as the gRPC front for the same seed; a client that vanishes mid-stream stops its
 * job on the worker (its active jobs back to 0) and the gateway keeps serving.
 */
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ResponseFormat_Type } from '@trine/proto';
import type { Running } from '../src/index.js';
import { client, collect, metadata, req } from './support/grpc.js';
import type { MeteredWorker } from './support/processes.js';
import { startDistributedStack, type DistributedStack } from './support/stack.js';

let stack: DistributedStack;
let worker: MeteredWorker;
let gw: Running;

beforeAll(async () => {
  stack = await startDistributedStack({ TRINE_MAX_BATCH: '4' });
  ({ worker, gw } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const sdk = (apiKey = 'k1') => new OpenAI({ baseURL: `http://127.0.0.1:${gw.server.httpPort}/v1`, apiKey, maxRetries: 0 });
const chat = [{ role: 'user' as const, content: 'Tell me a story.' }];

describe('distributed: HTTP → BullMQ/Redis → worker', () => {
  it('chat completions, whole and streamed, give the gRPC stream’s text for the same seed', async () => {
    const msgs = await collect(client(gw.port), req({ messages: chat, maxTokens: 16, temperature: 0.9, seed: 99n }), metadata('k1'));
    const grpcText = msgs.map((m) => m.text).join('');
    const whole = await sdk().chat.completions.create({ model: '', messages: chat, max_tokens: 16, temperature: 0.9, seed: 99 });
    expect(whole.choices[0]!.message.content).toBe(grpcText);
    expect(whole.usage?.completion_tokens).toBe(msgs.at(-1)!.usage!.outputTokens);
    let text = '';
    for await (const c of await sdk().chat.completions.create({ model: '', messages: chat, max_tokens: 16, temperature: 0.9, seed: 99, stream: true })) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(grpcText);
  });

  it('logit_bias, response_format and logprobs alternatives travel through Redis to the worker and back', async () => {
    const ai = sdk();
    // logit_bias in the job's JSON (string keys) still names the token: +100 forces it.
    const greedy = await ai.chat.completions.create({ model: '', messages: chat, max_tokens: 6, logprobs: true, top_logprobs: 2 });
    const first = greedy.choices[0]!.logprobs!.content![0]!.top_logprobs[0]! as { token: string; bytes: number[] | null; token_id?: number };
    // The worker's engine thread added each alternative's bytes; the gateway renders their text.
    expect(first.bytes).not.toBeNull();
    expect(first.token).toBe(new TextDecoder().decode(Uint8Array.from(first.bytes!)));
    const forced = await ai.chat.completions.create({ model: '', messages: chat, max_tokens: 4, logit_bias: { [String(first.token_id)]: 100 }, ignore_eos: true } as never as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(forced.choices[0]!.message.content).toBe(first.token.repeat(4));
    const schema = { type: 'object', properties: { ok: { type: 'boolean' }, n: { enum: [1, 2, 3] } }, required: ['ok', 'n'], additionalProperties: false };
    const json = await ai.chat.completions.create({ model: '', messages: chat, max_tokens: 60, temperature: 0.8, seed: 3, response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
    const v = JSON.parse(json.choices[0]!.message.content!) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['ok', 'n']);
    expect(typeof v.ok).toBe('boolean');
    expect([1, 2, 3]).toContain(v.n);
    // The gRPC front, the same job path: a regex format and prompt lookup (greedy text unchanged by it).
    const c = client(gw.port);
    const re = await collect(c, req({ prompt: 'Code:', maxTokens: 20, temperature: 0.7, seed: 2n, responseFormat: { type: ResponseFormat_Type.TYPE_REGEX, jsonSchema: '', regex: '[a-z]{2}[0-9]', grammar: '' } }), metadata('k1'));
    expect(re.map((m) => m.text).join('')).toMatch(/^[a-z]{2}[0-9]$/);
    const plain = await collect(c, req({ prompt: 'one two one two one two one', maxTokens: 16 }), metadata('k1'));
    const lookup = await collect(c, req({ prompt: 'one two one two one two one', maxTokens: 16, promptLookup: 6 }), metadata('k1'));
    expect(lookup.map((m) => m.text).join('')).toBe(plain.map((m) => m.text).join(''));
    c.close();
  });

  it('a bad key is 401 before anything is queued', async () => {
    await expect(sdk('nope').completions.create({ model: '', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('a client that vanishes mid-stream stops its job on the worker', async () => {
    const before = await worker.settled();
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const q = httpRequest(`http://127.0.0.1:${gw.server.httpPort}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k1' } }, resolve);
      q.on('error', reject);
      q.end(JSON.stringify({ prompt: 'The sea', max_tokens: 240, stream: true }));
    });
    expect(res.statusCode).toBe(200);
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    res.destroy();
    await vi.waitFor(async () => {
      expect(gw.server.http!.openStreams).toBe(0);
      const jobs = await worker.jobs();
      expect(jobs.active).toBe(0);
      expect(jobs.cancelled + jobs.done).toBe(before.cancelled + before.done + 1);
    }, { timeout: 30_000, interval: 50 });
    expect(gw.server.metrics.cancelled).toBe(1);
    const after = await sdk().completions.create({ model: '', prompt: 'x', max_tokens: 2 });
    expect(after.usage?.completion_tokens).toBe(2);
  });
});
