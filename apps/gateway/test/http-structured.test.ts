/**
 * Structured output, the newer sampling controls, `n` and log-probabilities on the HTTP front, driven by the real
 * `openai` SDK against a running standalone gateway: constrained answers parse and match their schema, `n` choices
 * are the single requests with seeds seed, seed+1, … (whole and streamed), alternatives carry their text, and a
 * schema keyword Trine does not support is a BadRequestError naming it.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startStandalone, type Running } from '../src/index.js';
import { client } from './support/grpc.js';

let gw: Running;
/** The id of a text that is one token (after the BOS the tokenizer may add), from the gRPC front's Tokenize. */
const tokenIdOf = (text: string): Promise<number> => {
  const c = client(gw.port);
  return new Promise<number>((resolve, reject) => c.tokenize({ model: '', text, chat: false }, (e, r) => (e ? reject(e) : resolve(r!.tokenIds.at(-1)!)))).finally(() => c.close());
};
const sdk = () => new OpenAI({ baseURL: `http://127.0.0.1:${gw.server.httpPort}/v1`, apiKey: 'none', maxRetries: 0 });

beforeAll(async () => {
  gw = await startStandalone({ TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '4', TRINE_CACHE_TTL_MS: '0' });
}, 120_000);
afterAll(async () => {
  await gw?.stop(500);
});

const chat = [{ role: 'user' as const, content: 'Describe the weather as JSON.' }];
const schema = {
  type: 'object',
  properties: { sunny: { type: 'boolean' }, sky: { enum: ['clear', 'cloudy', 'dark'] }, degrees: { type: 'integer' } },
  required: ['sunny', 'sky', 'degrees'],
  additionalProperties: false,
};

/** The schema above, checked by hand (the gateway has no JSON Schema validator among its dependencies). */
function expectWeather(text: string | null | undefined): void {
  const v = JSON.parse(text ?? '') as Record<string, unknown>;
  expect(Object.keys(v)).toEqual(['sunny', 'sky', 'degrees']);
  expect(typeof v.sunny).toBe('boolean');
  expect(['clear', 'cloudy', 'dark']).toContain(v.sky);
  expect(Number.isInteger(v.degrees)).toBe(true);
}

describe('response_format', () => {
  it("json_schema (OpenAI's shape) gives JSON valid under the schema, whole and streamed", async () => {
    const body = { model: '', messages: chat, max_tokens: 120, temperature: 0.8, seed: 4, response_format: { type: 'json_schema' as const, json_schema: { name: 'weather', schema, strict: true } } };
    const whole = await sdk().chat.completions.create(body);
    expect(whole.choices[0]!.finish_reason).toBe('stop');
    expectWeather(whole.choices[0]!.message.content);
    let text = '';
    for await (const chunk of await sdk().chat.completions.create({ ...body, stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(whole.choices[0]!.message.content);
  });

  it("json_object, vLLM's guided_regex and guided_json, llama-server's grammar", async () => {
    const ai = sdk();
    // This model fills the first key's string with prose until max_tokens (a JSON prefix); with the braces favoured
    // the only object the grammar allows is the empty one.
    const json = await ai.completions.create({ model: '', prompt: 'JSON:', max_tokens: 12, temperature: 0.7, seed: 3, response_format: { type: 'json_object' } } as never as OpenAI.CompletionCreateParamsNonStreaming);
    expect(json.choices[0]!.text).toMatch(/^\{\s*"/);
    const braces = { [await tokenIdOf('{')]: 100, [await tokenIdOf('}')]: 100 };
    const empty = await ai.chat.completions.create({ model: '', messages: chat, max_tokens: 12, response_format: { type: 'json_object' }, logit_bias: braces });
    expect(empty.choices[0]!.finish_reason).toBe('stop');
    expect(JSON.parse(empty.choices[0]!.message.content!)).toEqual({});
    const regex = await ai.completions.create({ model: '', prompt: 'Code:', max_tokens: 30, temperature: 0.7, seed: 3, guided_regex: '[A-Z]{3}-[0-9]{2}' } as never as OpenAI.CompletionCreateParamsNonStreaming);
    expect(regex.choices[0]!.text).toMatch(/^[A-Z]{3}-[0-9]{2}$/);
    const guided = await ai.chat.completions.create({ model: '', messages: chat, max_tokens: 120, temperature: 0.8, seed: 5, guided_json: schema } as never as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expectWeather(guided.choices[0]!.message.content);
    const grammar = await ai.completions.create({ model: '', prompt: 'List:', max_tokens: 30, grammar: 'root ::= item ("," item){2}\nitem ::= [a-z] [0-9]\n' } as never as OpenAI.CompletionCreateParamsNonStreaming);
    expect(grammar.choices[0]!.text).toMatch(/^[a-z][0-9](,[a-z][0-9]){2}$/);
  });

  it('an unsupported schema keyword, a bad pattern or two formats at once is a BadRequestError naming it', async () => {
    const bad = async (body: Record<string, unknown>): Promise<string | null | undefined> => {
      const e = await sdk().chat.completions.create({ model: '', messages: chat, max_tokens: 4, ...body } as never).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      return (e as InstanceType<typeof OpenAI.BadRequestError>).param;
    };
    const minimum = { type: 'object', properties: { degrees: { type: 'integer', minimum: -50 } } };
    expect(await bad({ response_format: { type: 'json_schema', json_schema: { name: 'w', schema: minimum } } })).toBe('response_format.json_schema.schema.properties.degrees.minimum');
    expect(await bad({ guided_json: minimum })).toBe('guided_json.properties.degrees.minimum');
    expect(await bad({ json_schema: minimum })).toBe('json_schema.properties.degrees.minimum');
    expect(await bad({ response_format: { type: 'xml' } })).toBe('response_format.type');
    expect(await bad({ response_format: { type: 'constructor' } })).toBe('response_format.type');
    // Nested past any stack (400 kB of brackets, within the body limit): refused, not a 500.
    // (sent as text: the SDK itself cannot stringify it)
    const deep = `{"messages": [{"role": "user", "content": "x"}], "guided_json": {"items": ${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
    const res = await fetch(`http://127.0.0.1:${gw.server.httpPort}/v1/chat/completions`, { method: 'POST', body: deep, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('guided_json');
    expect(await bad({ response_format: { type: 'json_schema' } })).toBe('response_format.json_schema');
    expect(await bad({ guided_regex: '(' })).toBe('guided_regex');
    expect(await bad({ grammar: 'root ::= nothing' })).toBe('grammar');
    expect(await bad({ response_format: { type: 'json_object' }, guided_regex: 'a' })).toBe('response_format');
  });
});

describe('n choices', () => {
  const base = { model: '', messages: chat, max_tokens: 10, temperature: 1, seed: 40 };

  it('n = 3 gives the three single requests with seeds seed, seed+1, seed+2; usage counts the prompt once', async () => {
    const ai = sdk();
    const singles = await Promise.all([40, 41, 42].map((seed) => ai.chat.completions.create({ ...base, seed })));
    const three = await ai.chat.completions.create({ ...base, n: 3 });
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(three.choices.map((c) => c.message.content)).toEqual(singles.map((s) => s.choices[0]!.message.content));
    // Different seeds, different samples (else the test could not tell the choices apart).
    expect(new Set(three.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    expect(three.usage!.prompt_tokens).toBe(singles[0]!.usage!.prompt_tokens);
    expect(three.usage!.completion_tokens).toBe(singles.reduce((sum, s) => sum + s.usage!.completion_tokens, 0));

    const texts = ['', '', ''];
    const finishes: (string | null)[] = [null, null, null];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of await ai.chat.completions.create({ ...base, n: 3, stream: true, stream_options: { include_usage: true } })) {
      for (const c of chunk.choices) {
        texts[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(texts).toEqual(three.choices.map((c) => c.message.content));
    expect(finishes).toEqual(three.choices.map((c) => c.finish_reason));
    expect(usage).toEqual(three.usage);
  });

  it('a client that vanishes cancels all n choices', async () => {
    const before = gw.server.metrics.cancelled;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const q = httpRequest(`http://127.0.0.1:${gw.server.httpPort}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, resolve);
      q.on('error', reject);
      q.end(JSON.stringify({ prompt: 'The sea', max_tokens: 400, n: 3, temperature: 1, seed: 1, stream: true }));
    });
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    res.destroy();
    await vi.waitFor(() => {
      expect(gw.server.http!.openStreams).toBe(0);
      expect(gw.server.metrics.cancelled).toBe(before + 3);
    }, { timeout: 20_000, interval: 20 });
    // And the server keeps serving.
    expect((await sdk().completions.create({ model: '', prompt: 'x', max_tokens: 2 })).usage?.completion_tokens).toBe(2);
  });

  it('completions too; n beyond the bound is refused naming n', async () => {
    const ai = sdk();
    const body = { model: '', prompt: 'Once upon a time', max_tokens: 8, temperature: 1, seed: 7 };
    const two = await ai.completions.create({ ...body, n: 2 });
    const second = await ai.completions.create({ ...body, seed: 8 });
    expect(two.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(two.choices[1]!.text).toBe(second.choices[0]!.text);
    const e = await ai.completions.create({ ...body, n: 17 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
  });
});

describe('the new controls over HTTP', () => {
  it('logit_bias forces a token; ignore_eos runs to max_tokens; min_p 1 is greedy', async () => {
    const ai = sdk();
    const greedy = await ai.completions.create({ model: '', prompt: 'The sea', max_tokens: 12 });
    const word = ' sea';
    const forced = await ai.completions.create({ model: '', prompt: 'The sea', max_tokens: 5, logit_bias: { [await tokenIdOf(word)]: 100 } });
    expect(forced.choices[0]!.text).toBe(word.repeat(5));
    const minP = await ai.completions.create({ model: '', prompt: 'The sea', max_tokens: 12, temperature: 1.5, seed: 2, min_p: 1 } as never as OpenAI.CompletionCreateParamsNonStreaming);
    expect(minP.choices[0]!.text).toBe(greedy.choices[0]!.text);
    const ignored = await ai.completions.create({ model: '', prompt: 'The sea', max_tokens: 12, ignore_eos: true, presence_penalty: 1, frequency_penalty: 1, typical_p: 0.9, temperature: 0.8, seed: 1 } as never as OpenAI.CompletionCreateParamsNonStreaming);
    expect(ignored.choices[0]!.finish_reason).toBe('length');
    expect(ignored.usage!.completion_tokens).toBe(12);
  });

  it('top_logprobs alternatives carry their token text and bytes; the greedy token is the first alternative', async () => {
    const r = await sdk().chat.completions.create({ model: '', messages: chat, max_tokens: 8, logprobs: true, top_logprobs: 3 });
    const content = r.choices[0]!.logprobs!.content!;
    expect(content).toHaveLength(8);
    for (const t of content) {
      expect(t.top_logprobs).toHaveLength(3);
      for (const alt of t.top_logprobs) {
        expect(alt.bytes).not.toBeNull();
        expect(alt.token).toBe(new TextDecoder().decode(Uint8Array.from(alt.bytes!)));
      }
      // Greedy: the token drawn is the most likely; where it completes its characters its text is its bytes'.
      expect(t.top_logprobs[0]!.logprob).toBe(t.logprob);
      if (!t.top_logprobs[0]!.token.includes('\uFFFD') && t.token !== '') expect(t.top_logprobs[0]!.token).toBe(t.token);
    }
    expect(content.some((t) => t.top_logprobs.some((a) => a.token.length > 0))).toBe(true);
  });
});
