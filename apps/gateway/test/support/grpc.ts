/** Small promise helpers over the generated client, for tests. */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { GenerateRequest, InferenceClient, type GenerateResponse, type GenerateStreamResponse } from '@trine/proto';

export function client(port: number): InferenceClient {
  return new InferenceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

export function req(partial: Partial<GenerateRequest>): GenerateRequest {
  return GenerateRequest.fromPartial(partial);
}

export function metadata(apiKey?: string): Metadata {
  const m = new Metadata();
  if (apiKey !== undefined) m.set('authorization', `Bearer ${apiKey}`);
  return m;
}

export function generate(c: InferenceClient, r: GenerateRequest, md = metadata(), deadlineMs?: number): Promise<GenerateResponse> {
  return new Promise((resolve, reject) =>
    c.generate(r, md, deadlineMs ? { deadline: Date.now() + deadlineMs } : {}, (e, v) => (e ? reject(e) : resolve(v!))),
  );
}

/** Collects a whole stream; resolves with the messages, rejects with the status error. */
export async function collect(c: InferenceClient, r: GenerateRequest, md = metadata(), deadlineMs?: number): Promise<GenerateStreamResponse[]> {
  const out: GenerateStreamResponse[] = [];
  const s = c.generateStream(r, md, deadlineMs ? { deadline: Date.now() + deadlineMs } : {});
  for await (const m of s) out.push(m as GenerateStreamResponse);
  return out;
}

export async function expectStatus(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** Token ids of a collected stream, asserting nothing; restart markers reset the list as a client would. */
export function streamTokens(msgs: readonly GenerateStreamResponse[]): { ids: number[]; indexes: number[]; restarts: number } {
  let ids: number[] = [];
  let indexes: number[] = [];
  let restarts = 0;
  for (const m of msgs) {
    if (m.restarted) {
      restarts++;
      ids = [];
      indexes = [];
    }
    for (const t of m.tokens) {
      ids.push(t.id);
      indexes.push(t.index);
    }
  }
  return { ids, indexes, restarts };
}

/** grpc.health.v1 Check → 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' … (via proto-loader, enums as strings). */
export async function healthCheck(port: number, service = ''): Promise<string> {
  const { loadSync } = await import('@grpc/proto-loader');
  const { loadPackageDefinition } = await import('@grpc/grpc-js');
  const { protoPath } = await import('grpc-health-check');
  const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true, enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => { Check(r: object, cb: (e: ServiceError | null, v: { status: string }) => void): void; close(): void } } } };
  };
  const h = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) => h.Check({ service }, (e, v) => (e ? (e.code === 5 ? resolve('SERVICE_UNKNOWN') : reject(e)) : resolve(v.status))));
  } finally {
    h.close();
  }
}
