/**
 * Auth and rate limits through the gRPC surface.
 * - Every method the gateway serves is enumerated — from server reflection over the wire, cross-checked with the
 *   grpc-js server's own handler table, so a new RPC or service is covered without editing this file — and each
 *   one refuses calls without credentials, with a malformed header and with a wrong key (UNAUTHENTICATED, field
 *   `authorization`), while a right key gets past auth. The deliberately open ones are stated here as policy:
 *   grpc.health.v1 (orchestrator probes carry no key) and server reflection (it describes the public API, nothing
 *   more), and they must answer without a key.
 * - Rate limits across two gateway processes on one Redis: one key limited to N, many concurrent calls over both
 *   replicas → exactly N admitted, the rest RESOURCE_EXHAUSTED.
 */
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { Client, credentials, loadPackageDefinition, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer, loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributedGateway, type Running } from '../../src/index.js';
import { client, generate, metadata, req } from '../support/grpc.js';
import type { Proc } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { bestBackend, kill, report, startGatewayProcess, startWorkerProcess, type GatewayProc } from './harness.js';

const KEY = 'hardening-key-1';
const OTHER_KEY = 'hardening-key-2';
/** Open by design (see the header): the orchestrator's probes and the API description. */
const OPEN_SERVICES = [/^grpc\.health\.v1\./, /^grpc\.reflection\.v1(alpha)?\./];

let redis: RedisServer;
let gw: Running;
const procs: Proc[] = [];

beforeAll(async () => {
  redis = await startRedis();
  gw = await startDistributedGateway({ REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_API_KEYS: `${KEY},${OTHER_KEY}` });
}, 120_000);

afterAll(async () => {
  kill(procs);
  await gw?.stop(500);
  await redis?.stop();
});

interface Method {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** A length-delimited protobuf field 1 (how a FileDescriptorSet holds each FileDescriptorProto). */
function field1(bytes: Buffer): Buffer {
  const len: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
}

type ReflectionReply = {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
};

/** Every method reflection describes: list the services, fetch each one's file descriptors, read the methods. */
async function methodsFromReflection(port: number): Promise<{ services: string[]; methods: Method[] }> {
  const root = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto');
  const pkg = loadPackageDefinition(loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [root], keepCase: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: typeof Client } } };
  };
  const c = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${port}`, credentials.createInsecure()) as Client & {
    ServerReflectionInfo(md?: Metadata): import('@grpc/grpc-js').ClientDuplexStream<object, ReflectionReply>;
  };
  const ask = (request: object): Promise<ReflectionReply> =>
    new Promise((resolve, reject) => {
      // No credentials: reflection is open by policy, and this proves it.
      const s = c.ServerReflectionInfo(new Metadata());
      s.once('data', (r: ReflectionReply) => {
        resolve(r);
        s.cancel();
      });
      s.once('error', (e: ServiceError) => (e.code === status.CANCELLED ? undefined : reject(e)));
      s.write(request);
      s.end();
    });
  try {
    const listed = await ask({ list_services: '' });
    const services = listed.list_services_response!.service.map((s) => s.name);
    const methods: Method[] = [];
    for (const name of services) {
      const r = await ask({ file_containing_symbol: name });
      const files = r.file_descriptor_response!.file_descriptor_proto;
      const def = loadFileDescriptorSetFromBuffer(Buffer.concat(files.map((f) => field1(Buffer.from(f)))));
      const svc = def[name] as Record<string, { path: string; requestStream: boolean; responseStream: boolean }> | undefined;
      if (!svc) throw new Error(`reflection lists ${name} but its descriptors do not define it`);
      for (const m of Object.values(svc)) methods.push({ path: m.path, requestStream: m.requestStream, responseStream: m.responseStream });
    }
    return { services, methods };
  } finally {
    c.close();
  }
}

/** What the grpc-js server actually routes (its handler table, keyed by path), with each handler's call type. */
function servedMethods(r: Running): Method[] {
  const handlers = (r.server as unknown as { server: { handlers: Map<string, { type: string }> } }).server.handlers;
  return [...handlers].map(([path, h]) => ({ path, requestStream: h.type === 'clientStream' || h.type === 'bidi', responseStream: h.type === 'serverStream' || h.type === 'bidi' }));
}

interface Outcome {
  readonly code: number;
  readonly field?: string;
  readonly messages: number;
}

/**
 * Calls any method with one empty message (raw bytes: a valid encoding of every proto3 message) and reports how it
 * ended. Streaming responses end at the first message (enough to see the caller was let in).
 */
function callRaw(port: number, m: Method, md: Metadata): Promise<Outcome> {
  const c = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const ser = (b: Buffer): Buffer => b;
  const opts = { deadline: Date.now() + 10_000 };
  return new Promise<Outcome>((resolve) => {
    const ended = (e: ServiceError | null, messages: number): void => {
      c.close();
      resolve({ code: e ? e.code : status.OK, ...(e ? { field: e.metadata?.get('trine-field')[0]?.toString() } : {}), messages });
    };
    if (!m.requestStream && !m.responseStream) {
      c.makeUnaryRequest(m.path, ser, ser, Buffer.alloc(0), md, opts, (e) => ended(e, e ? 0 : 1));
      return;
    }
    if (m.requestStream && !m.responseStream) {
      const s = c.makeClientStreamRequest(m.path, ser, ser, md, opts, (e) => ended(e, e ? 0 : 1));
      s.write(Buffer.alloc(0));
      s.end();
      return;
    }
    const s = m.requestStream ? c.makeBidiStreamRequest(m.path, ser, ser, md, opts) : c.makeServerStreamRequest(m.path, ser, ser, Buffer.alloc(0), md, opts);
    let messages = 0;
    let done = false;
    s.on('data', () => {
      messages++;
      if (!done) {
        done = true;
        ended(null, messages);
        s.cancel();
      }
    });
    s.on('error', (e: ServiceError) => {
      if (!done) {
        done = true;
        ended(e, messages);
      }
    });
    s.on('end', () => {
      if (!done) {
        done = true;
        ended(null, messages);
      }
    });
    if (m.requestStream) {
      (s as unknown as { write(b: Buffer): void; end(): void }).write(Buffer.alloc(0));
      (s as unknown as { end(): void }).end();
    }
  });
}

function md(authorization?: string): Metadata {
  const m = new Metadata();
  if (authorization !== undefined) m.set('authorization', authorization);
  return m;
}

describe('hardening: auth and rate limits through the gRPC surface', () => {
  it('every method of every served service refuses calls without or with wrong credentials, except the open ones', async () => {
    const reflected = await methodsFromReflection(gw.port);
    const served = servedMethods(gw);
    // Reflection must describe every method the server routes, apart from reflection's own service.
    const reflectedPaths = new Set(reflected.methods.map((m) => m.path));
    const unreflected = served.filter((m) => !reflectedPaths.has(m.path) && !/^\/grpc\.reflection\./.test(m.path)).map((m) => m.path);
    expect(unreflected).toEqual([]);
    const all = new Map<string, Method>([...served, ...reflected.methods].map((m) => [m.path, m]));
    const service = (path: string): string => path.slice(1, path.lastIndexOf('/'));
    const open = [...all.values()].filter((m) => OPEN_SERVICES.some((re) => re.test(service(m.path))));
    const guarded = [...all.values()].filter((m) => !open.includes(m));
    // The API itself must be among the guarded methods, or this test checks nothing.
    expect(guarded.map((m) => m.path)).toEqual(expect.arrayContaining(['/trine.v1.Inference/Generate', '/trine.v1.Inference/GenerateStream']));

    const refusals: Record<string, string[]> = {};
    const rows: string[] = [];
    for (const m of guarded) {
      const tries = { none: md(), malformed: md(`Basic ${KEY}`), empty: md('Bearer '), wrong: md('Bearer not-a-key'), wrongCase: md(`Bearer ${KEY.toUpperCase()}`) };
      const codes: string[] = [];
      for (const [name, meta] of Object.entries(tries)) {
        const o = await callRaw(gw.port, m, meta);
        codes.push(`${name}:${status[o.code]}`);
        if (o.code !== status.UNAUTHENTICATED || o.field !== 'authorization') (refusals[m.path] ??= []).push(`${name} → ${status[o.code]} field=${o.field}`);
      }
      // The right key gets past auth (the empty request may then fail validation, but not authentication).
      const ok = await callRaw(gw.port, m, md(`Bearer ${KEY}`));
      if (ok.code === status.UNAUTHENTICATED) (refusals[m.path] ??= []).push('right key → UNAUTHENTICATED');
      rows.push(`${m.path} ${codes.join(',')} key:${status[ok.code]}`);
    }
    const openRows: string[] = [];
    for (const m of open) {
      const o = await callRaw(gw.port, m, md());
      openRows.push(`${m.path}:${status[o.code]}/${o.messages}msg`);
      // Open means it answers a caller without a key.
      if (o.code === status.UNAUTHENTICATED || o.messages === 0) (refusals[m.path] ??= []).push(`open method without key → ${status[o.code]}, ${o.messages} messages`);
    }
    report('auth', {
      services: [...new Set([...all.keys()].map(service))].join('/'),
      methods: all.size,
      guarded: guarded.length,
      open: open.length,
      calls_without_valid_key: guarded.length * 5,
      failures: Object.keys(refusals).length,
    });
    for (const r of rows) console.log(`  guarded ${r}`);
    console.log(`  open ${openRows.join(' ')}`);
    expect(refusals).toEqual({});
  }, 60_000);

  it('rate limit exact across two gateway processes on one Redis: N admitted, the rest RESOURCE_EXHAUSTED', async () => {
    const N = 12;
    const OFFERED = 60;
    const backend = (await bestBackend()).name;
    const env = { REDIS_URL: redis.url, TRINE_BACKEND: backend, TRINE_API_KEYS: `${KEY},${OTHER_KEY}`, TRINE_RATE_LIMIT: `${N}/120`, TRINE_CACHE_TTL_MS: '0' };
    const w = startWorkerProcess({ REDIS_URL: redis.url, TRINE_BACKEND: backend });
    procs.push(w);
    const [a, b] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
    procs.push(a, b);
    await w.waitFor('worker ready', 90_000);
    const clients = [client(a.port), client(b.port)];
    // Connected channels first (ListModels is not rate limited), so the calls below race for real.
    await Promise.all(clients.map((c) => new Promise((r) => c.listModels({}, metadata(KEY), () => r(undefined)))));
    const outcomes = await Promise.all(
      Array.from({ length: OFFERED }, (_, i) =>
        generate(clients[i % 2]!, req({ prompt: `rate ${i}`, maxTokens: 2 }), metadata(KEY), 60_000).then(
          () => ({ replica: i % 2, code: 'OK' }),
          (e: ServiceError) => ({ replica: i % 2, code: status[e.code] ?? String(e.code) }),
        ),
      ),
    );
    // Another key has its own budget.
    const other = await generate(clients[1]!, req({ prompt: 'other key', maxTokens: 2 }), metadata(OTHER_KEY), 60_000).then(() => 'OK', (e: ServiceError) => status[e.code]);
    clients.forEach((c) => c.close());
    const count = (replica: number, code: string): number => outcomes.filter((o) => o.replica === replica && o.code === code).length;
    const admitted = outcomes.filter((o) => o.code === 'OK').length;
    const limited = outcomes.filter((o) => o.code === 'RESOURCE_EXHAUSTED').length;
    report('rate-limit-2-replicas', {
      limit: N,
      window_s: 120,
      offered: OFFERED,
      admitted,
      admitted_a: count(0, 'OK'),
      admitted_b: count(1, 'OK'),
      resource_exhausted: limited,
      other: OFFERED - admitted - limited,
      other_key: other ?? 'none',
    });
    expect(admitted).toBe(N);
    expect(limited).toBe(OFFERED - N);
    expect(other).toBe('OK');
  }, 150_000);
});
