/** Content policy on responses: a blocked term in the generated text ends the stream with PERMISSION_DENIED. */
import { status } from '@grpc/grpc-js';
import { TrineClient } from '@trine/client';
import { afterAll, describe, expect, it } from 'vitest';
import { startStandalone, type Running } from '../src/index.js';

const running: Running[] = [];
afterAll(async () => {
  for (const r of running) await r.stop(200);
});

async function start(env: Record<string, string>): Promise<{ r: Running; trine: TrineClient }> {
  const r = await startStandalone({ TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '2', TRINE_CACHE_TTL_MS: '0', ...env });
  running.push(r);
  return { r, trine: new TrineClient({ address: `127.0.0.1:${r.port}` }) };
}

describe('content policy on responses', () => {
  it('blocks a response that would contain a blocked term, with a reason, and counts it', async () => {
    const prompt = 'tell me';
    // Learn what the model says greedily, then block a piece of it that the prompt does not contain.
    const open = await start({});
    const said = await open.trine.generate({ prompt, maxTokens: 12, temperature: 0 });
    open.trine.close();
    const term = (said.text.match(/[a-z]{3,}/gi) ?? []).find((w) => !prompt.includes(w.toLowerCase()));
    expect(term, `no usable word in ${JSON.stringify(said.text)}`).toBeDefined();

    const strict = await start({ TRINE_POLICY_BLOCKLIST: term! });
    await expect(strict.trine.generate({ prompt, maxTokens: 12, temperature: 0 })).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: 'response contains a blocked term',
    });
    expect(strict.r.server.metrics.rejections.policy).toBe(1);
    strict.trine.close();
  });
});
