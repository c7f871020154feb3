/** Every GenerateRequest field is validated: INVALID_ARGUMENT naming the field (message and `trine-field`). */
import { status, type ServiceError } from '@grpc/grpc-js';
import { GenerateRequest } from '@trine/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer, LocalJobQueue, SingleModelCatalog, gatewayConfig, startStandalone, type Running } from '../src/index.js';
import { client, expectStatus, generate, healthCheck, req } from './support/grpc.js';

let sa: Running;
beforeAll(async () => {
  sa = await startStandalone({ TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '2' });
}, 120_000);
afterAll(async () => {
  await sa?.stop(500);
});

function fieldOf(e: ServiceError): string | undefined {
  return e.metadata?.get('trine-field')[0] as string | undefined;
}

/** Sends raw bytes as a GenerateRequest (to put invalid UTF-8 on the wire). */
function rawGenerate(bytes: Uint8Array): Promise<unknown> {
  const c = client(sa.port);
  return new Promise((resolve, reject) =>
    c.makeUnaryRequest('/trine.v1.Inference/Generate', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(bytes), (e, v) => {
      c.close();
      return e ? reject(e) : resolve(v);
    }),
  );
}

describe('request validation', () => {
  const long = 'word '.repeat(700);
  const cases: [string, Partial<GenerateRequest>, string][] = [
    ['empty prompt', { prompt: '' }, 'prompt'],
    ['prompt and messages', { prompt: 'a', messages: [{ role: 'user', content: 'b' }] }, 'prompt'],
    ['unknown model', { model: 'gpt-17', prompt: 'a' }, 'model'],
    ['unknown role', { messages: [{ role: 'wizard', content: 'b' }] }, 'messages[0].role'],
    ['max_tokens 0', { prompt: 'a', maxTokens: 0 }, 'max_tokens'],
    ['negative max_tokens', { prompt: 'a', maxTokens: -5 }, 'max_tokens'],
    ['huge max_tokens', { prompt: 'a', maxTokens: 2_000_000_000 }, 'max_tokens'],
    ['NaN temperature', { prompt: 'a', temperature: Number.NaN }, 'temperature'],
    ['infinite temperature', { prompt: 'a', temperature: Number.POSITIVE_INFINITY }, 'temperature'],
    ['negative temperature', { prompt: 'a', temperature: -1 }, 'temperature'],
    ['top_p 0', { prompt: 'a', topP: 0 }, 'top_p'],
    ['top_p > 1', { prompt: 'a', topP: 1.5 }, 'top_p'],
    ['negative top_k', { prompt: 'a', topK: -1 }, 'top_k'],
    ['top_k beyond vocab', { prompt: 'a', topK: 1_000_000 }, 'top_k'],
    ['repetition_penalty 0', { prompt: 'a', repetitionPenalty: 0 }, 'repetition_penalty'],
    ['NaN repetition_penalty', { prompt: 'a', repetitionPenalty: Number.NaN }, 'repetition_penalty'],
    ['seed ≥ 2^53', { prompt: 'a', seed: 2n ** 60n }, 'seed'],
    ['too many stop strings', { prompt: 'a', stop: Array.from({ length: 9 }, (_, i) => `s${i}`) }, 'stop'],
    ['too long stop string', { prompt: 'a', stop: ['x'.repeat(65)] }, 'stop[0]'],
    ['empty stop string', { prompt: 'a', stop: ['ok', ''] }, 'stop[1]'],
    ['top_logprobs > 20', { prompt: 'a', topLogprobs: 21 }, 'top_logprobs'],
    ['prompt longer than the context', { prompt: long }, 'prompt'],
    ['input + max_tokens beyond the context', { prompt: 'word '.repeat(100), maxTokens: 500 }, 'max_tokens'],
  ];

  for (const [name, partial, field] of cases) {
    it(`${name} → INVALID_ARGUMENT naming ${field}`, async () => {
      const c = client(sa.port);
      const e = await expectStatus(generate(c, req(partial)));
      c.close();
      expect(e.code).toBe(status.INVALID_ARGUMENT);
      expect(fieldOf(e)).toBe(field);
      expect(e.details.startsWith(`${field}:`)).toBe(true);
    });
  }

  it('invalid UTF-8 in the prompt → INVALID_ARGUMENT naming prompt; a real U+FFFD is accepted', async () => {
    // field 2 (prompt), wire type 2, 3 bytes: 'a', 0xFF (never valid in UTF-8), 'b'
    const e = (await expectStatus(rawGenerate(new Uint8Array([0x12, 3, 0x61, 0xff, 0x62])))) as ServiceError;
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldOf(e)).toBe('prompt');
    expect(e.details).toMatch(/UTF-8/);
    const ok = GenerateRequest.encode(GenerateRequest.fromPartial({ prompt: 'a\uFFFDb', maxTokens: 1 })).finish();
    await expect(rawGenerate(ok)).resolves.toBeDefined();
  });

  it('invalid UTF-8 in a stop string names it', async () => {
    const bytes = GenerateRequest.encode(GenerateRequest.fromPartial({ prompt: 'hello', stop: ['ok', 'PLACEHOLDER'] })).finish();
    // Replace the second stop string's bytes in place with invalid UTF-8 of the same length.
    const at = Buffer.from(bytes).indexOf('PLACEHOLDER');
    const bad = Uint8Array.from(bytes);
    bad.fill(0xc3, at, at + 11);
    const e = (await expectStatus(rawGenerate(bad))) as ServiceError;
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldOf(e)).toBe('stop[1]');
  });

  it('oversized messages are refused by the transport limit (RESOURCE_EXHAUSTED), never buffered whole', async () => {
    const c = client(sa.port);
    const e = await expectStatus(generate(c, req({ prompt: 'x'.repeat(2 << 20) })));
    c.close();
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('counts validation rejections', () => {
    expect(sa.server.metrics.rejections.validation).toBeGreaterThanOrEqual(cases.length);
  });
});

describe('warm-up and shutdown states', () => {
  it('health is NOT_SERVING and calls are UNAVAILABLE until ready; SERVING after; the port closes on shutdown', async () => {
    const server = new GatewayServer(gatewayConfig({ TRINE_LISTEN: '127.0.0.1:0' }), { queue: new LocalJobQueue(sa.host!, 1) });
    const port = await server.listen();
    expect(await healthCheck(port)).toBe('NOT_SERVING');
    expect(await healthCheck(port, 'trine.v1.Inference')).toBe('NOT_SERVING');
    const c = client(port);
    expect((await expectStatus(generate(c, req({ prompt: 'early', maxTokens: 1 })))).code).toBe(status.UNAVAILABLE);
    server.ready(new SingleModelCatalog(sa.host!));
    expect(await healthCheck(port, 'trine.v1.Inference')).toBe('SERVING');
    expect((await generate(c, req({ prompt: 'now', maxTokens: 1 }))).usage?.inputTokens).toBeGreaterThan(0);
    c.close();
    const closing = server.shutdown(1000);
    await closing;
    // The port is closed after shutdown: a new client cannot reach it.
    await expect(healthCheck(port)).rejects.toBeDefined();
  });
});
