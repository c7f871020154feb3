/** `pnpm start`'s entry as a real process: no Redis, answers Generate, health and reflection, exits 0 on SIGTERM. */
import { credentials, loadPackageDefinition, status, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { TrineClient } from '@trine/client';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTs, type Proc } from './support/processes.js';

let proc: Proc;
let port: number;

beforeAll(async () => {
  proc = spawnTs('apps/gateway/src/standalone.ts', { TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_API_KEYS: '' });
  port = (await proc.waitFor('serving')).port as number;
}, 120_000);

afterAll(() => {
  if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

function service(protoFile: string, includeDirs: string[], path: string[]): ServiceClientConstructor {
  let o: unknown = loadPackageDefinition(loadSync(protoFile, { includeDirs, keepCase: true, enums: String }));
  for (const p of path) o = (o as GrpcObject)[p];
  return o as ServiceClientConstructor;
}

describe('standalone (pnpm start)', () => {
  it('answers Generate, Tokenize and ListModels through @trine/client', async () => {
    const trine = new TrineClient({ address: `127.0.0.1:${port}` });
    const models = await trine.listModels();
    expect(models).toHaveLength(1);
    expect(models[0]!.isDefault).toBe(true);
    const ids = await trine.tokenize('hello world');
    expect(ids.length).toBeGreaterThan(0);
    const r = await trine.generate({ prompt: 'hello world', maxTokens: 5, temperature: 0 });
    expect(r.tokenIds.length).toBe(r.usage!.outputTokens);
    expect(r.usage!.inputTokens).toBe(ids.length);
    const streamed: number[] = [];
    for await (const m of trine.stream({ prompt: 'hello world', maxTokens: 5, temperature: 0, seed: 1n })) streamed.push(...m.tokens.map((t) => t.id));
    // Greedy: the stream and the unary call agree (the second may come from the cache; the ids must match anyway).
    expect(streamed).toEqual(r.tokenIds);
    trine.close();
  });

  it('reports SERVING on grpc.health.v1 and lists Inference and Health by reflection', async () => {
    const Health = service(healthProtoPath, [], ['grpc', 'health', 'v1', 'Health']);
    const h = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
    const check = await new Promise<{ status: string }>((resolve, reject) =>
      (h as unknown as { Check(r: object, cb: (e: Error | null, v: { status: string }) => void): void }).Check({ service: 'trine.v1.Inference' }, (e, v) => (e ? reject(e) : resolve(v))),
    );
    expect(check.status).toBe('SERVING');
    h.close();

    const reflDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');
    const Reflection = service('grpc/reflection/v1/reflection.proto', [reflDir], ['grpc', 'reflection', 'v1', 'ServerReflection']);
    const r = new Reflection(`127.0.0.1:${port}`, credentials.createInsecure());
    const call = (r as unknown as { ServerReflectionInfo(): NodeJS.ReadWriteStream & { write(m: object): void } }).ServerReflectionInfo();
    const reply = await new Promise<{ list_services_response: { service: { name: string }[] } }>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    call.end();
    const names = reply.list_services_response.service.map((s) => s.name);
    expect(names).toContain('trine.v1.Inference');
    expect(names).toContain('grpc.health.v1.Health');
    r.close();
  });

  it('SIGTERM drains: a stream in flight completes, new calls are refused, then exit 0', async () => {
    const trine = new TrineClient({ address: `127.0.0.1:${port}`, retry: { maxAttempts: 1 } });
    const it = trine.stream({ prompt: 'drain me', maxTokens: 40, temperature: 1, seed: 5n })[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    proc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    await expect(trine.generate({ prompt: 'late', maxTokens: 1 })).rejects.toMatchObject({ code: status.UNAVAILABLE });
    const rest = [first.value!];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    const last = rest.at(-1)!;
    expect(last.done).toBe(true);
    expect(rest.flatMap((m) => m.tokens.map((t) => t.index))).toEqual(Array.from({ length: last.usage!.outputTokens }, (_, i) => i));
    trine.close();
    expect((await proc.exited()).code).toBe(0);
  });
});
