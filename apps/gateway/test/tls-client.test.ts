/**
 * Transport options and the client wrapper against the standalone server in-process: TLS, mTLS (certificates made
 * here with openssl), API keys through TrineClient, retries on UNAVAILABLE, top_logprobs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { TrineClient } from '@trine/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type Running } from '../src/index.js';
import { freePort } from './support/redis-server.js';

let dir: string;
const pem = (name: string): Buffer => readFileSync(join(dir, name));
const running: Running[] = [];

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCerts(): void {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=trine-test-ca');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'trine-client'}`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1' > ${who}.ext`], { cwd: dir });
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', '-extfile', `${who}.ext`);
  }
}

async function start(env: Record<string, string>): Promise<Running> {
  const r = await startStandalone({ TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '2', ...env });
  running.push(r);
  return r;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trine-tls-'));
  makeCerts();
});
afterAll(async () => {
  for (const r of running) await r.stop(200);
  rmSync(dir, { recursive: true, force: true });
});

describe('transport and client', () => {
  it('TLS: a client trusting the CA gets answers; a plaintext client does not', async () => {
    const r = await start({ TRINE_TLS_CERT: join(dir, 'server.pem'), TRINE_TLS_KEY: join(dir, 'server.key') });
    const ok = new TrineClient({ address: `127.0.0.1:${r.port}`, credentials: credentials.createSsl(pem('ca.pem')) });
    expect((await ok.generate({ prompt: 'tls', maxTokens: 2 })).usage?.inputTokens).toBeGreaterThan(0);
    ok.close();
    const plain = new TrineClient({ address: `127.0.0.1:${r.port}`, retry: { maxAttempts: 1 }, deadlineMs: 3000 });
    await expect(plain.listModels()).rejects.toMatchObject({ code: status.UNAVAILABLE });
    plain.close();
  });

  it('mTLS: only clients with a certificate from the configured CA get in', async () => {
    const r = await start({ TRINE_TLS_CERT: join(dir, 'server.pem'), TRINE_TLS_KEY: join(dir, 'server.key'), TRINE_TLS_CLIENT_CA: join(dir, 'ca.pem') });
    const withCert = new TrineClient({ address: `127.0.0.1:${r.port}`, credentials: credentials.createSsl(pem('ca.pem'), pem('client.key'), pem('client.pem')) });
    expect(await withCert.listModels()).toHaveLength(1);
    withCert.close();
    const noCert = new TrineClient({ address: `127.0.0.1:${r.port}`, credentials: credentials.createSsl(pem('ca.pem')), retry: { maxAttempts: 1 }, deadlineMs: 3000 });
    await expect(noCert.listModels()).rejects.toMatchObject({ code: status.UNAVAILABLE });
    noCert.close();
  });

  it('TrineClient sends the API key, and top_logprobs come back per token', async () => {
    const r = await start({ TRINE_API_KEYS: 'secret-1' });
    const anon = new TrineClient({ address: `127.0.0.1:${r.port}` });
    await expect(anon.generate({ prompt: 'x', maxTokens: 1 })).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    anon.close();
    const trine = new TrineClient({ address: `127.0.0.1:${r.port}`, apiKey: 'secret-1' });
    const res = await trine.generate({ prompt: 'logprobs', maxTokens: 3, topLogprobs: 4, temperature: 0 });
    expect(res.tokens).toHaveLength(res.tokenIds.length);
    for (const t of res.tokens) {
      expect(t.topLogprobs).toHaveLength(4);
      // Greedy: the chosen token is the most likely one.
      expect(t.topLogprobs[0]!.tokenId).toBe(t.id);
      expect(t.logprob).toBeCloseTo(t.topLogprobs[0]!.logprob, 5);
    }
    trine.close();
  });

  it('retries UNAVAILABLE with backoff until the server comes up', async () => {
    const port = await freePort();
    const trine = new TrineClient({ address: `127.0.0.1:${port}`, retry: { maxAttempts: 60, initialBackoffMs: 50, maxBackoffMs: 300 }, deadlineMs: 60_000 });
    const call = trine.listModels();
    await new Promise((r) => setTimeout(r, 300));
    await start({ TRINE_LISTEN: `127.0.0.1:${port}` });
    expect(await call).toHaveLength(1);
    trine.close();
  });
});
