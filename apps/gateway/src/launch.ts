/**
 * Assembles the two modes. Distributed: Redis queue + Redis rate limits + Redis cache; the gateway holds only the
 * model's tokenizer (no weights) for validation. Standalone: the same server
 * over an in-process queue feeding the one engine, no Redis.
 */
import { Redis } from 'ioredis';
import { EngineHost, engineEnv, prefixRoutingEnabled, type ModelHost } from '@trine/serving';
import { resolveModelPath } from '@trine/hub';
import { MemoryResponseCache, RedisResponseCache } from './cache.js';
import { SingleModelCatalog, TokenizerCatalog } from './catalog.js';
import { gatewayConfig, type GatewayConfig } from './config.js';
import { LocalJobQueue } from './local-queue.js';
import { MemoryRateLimiter, RedisRateLimiter } from './rate-limit.js';
import { RedisJobQueue } from './redis-queue.js';
import { GatewayServer } from './server.js';
import { activeTelemetry, createLogger } from '@trine/telemetry';
import { instrumentGateway } from './otel/gateway-metrics.js';

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

export interface Running {
  readonly server: GatewayServer;
  readonly port: number;
  /** The engine, where this process runs one (standalone). */
  readonly host?: ModelHost;
  stop(graceMs?: number): Promise<void>;
}

export async function startDistributedGateway(env: NodeJS.ProcessEnv = process.env, log: Logger = () => {}): Promise<Running> {
  const redisUrl = env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is required (e.g. redis://127.0.0.1:6379)');
  const config: GatewayConfig = gatewayConfig(env);
  const queue = new RedisJobQueue(redisUrl, { prefixRouting: prefixRoutingEnabled(env) });
  // Rate limits and the cache fail fast too: with an offline queue, a deterministic Generate waited 1.8 s in the
  // cache lookup (and the rate limiter behind it) while Redis was down, instead of getting UNAVAILABLE at once.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
  redis.on('error', (e: Error) => log('redis error', { error: e.message }));
  const server = new GatewayServer(config, {
    queue,
    ...(config.rateLimit ? { rateLimiter: new RedisRateLimiter(redis, config.rateLimit) } : {}),
    ...(config.cacheTtlMs > 0 ? { cache: new RedisResponseCache(redis, config.cacheTtlMs) } : {}),
  });
  const telemetry = instrumentGateway(server.metrics, queue.connection);
  const port = await server.listen();
  log('gateway listening (NOT_SERVING until the tokenizer is loaded)', { listen: config.listen, port, httpPort: server.httpPort, tls: Boolean(config.tls) });
  const e = await engineEnvWithLocalModel(env, log);
  const catalog = await TokenizerCatalog.load({ ...(e.model ? { model: e.model } : {}), ...(e.context ? { context: e.context } : {}) });
  server.ready(catalog);
  const info = catalog.list()[0]!;
  log('gateway serving', { model: info.name, context: info.contextLength });
  return {
    server,
    port,
    async stop(graceMs) {
      await server.shutdown(graceMs);
      await telemetry.close().catch(() => undefined);
      await redis.quit().catch(() => undefined);
    },
  };
}

/** The engine settings with TRINE_MODEL=hf:… pulled into the Hugging Face cache first (as the worker does). */
async function engineEnvWithLocalModel(env: NodeJS.ProcessEnv, log: Logger): Promise<ReturnType<typeof engineEnv>> {
  const e = engineEnv(env);
  if (e.model === undefined) return e;
  return { ...e, model: await resolveModelPath(e.model, { onEvent: (ev) => ev.kind !== 'progress' && log('model pull', { ...ev }) }) };
}

export async function startStandalone(env: NodeJS.ProcessEnv = process.env, log: Logger = () => {}): Promise<Running> {
  const config = gatewayConfig(env);
  const e = await engineEnvWithLocalModel(env, log);
  const host = await EngineHost.start(e);
  log('model loaded', { model: host.info.name, backend: host.info.backend, variant: host.info.backendVariant, why: host.info.selectionReason, selection: host.info.selection });
  const queue = new LocalJobQueue(host, e.maxBatch);
  const server = new GatewayServer(config, {
    queue,
    ...(config.rateLimit ? { rateLimiter: new MemoryRateLimiter(config.rateLimit) } : {}),
    ...(config.cacheTtlMs > 0 ? { cache: new MemoryResponseCache(config.cacheTtlMs) } : {}),
  });
  instrumentGateway(server.metrics, undefined, { backend: host.info.backend, variant: host.info.backendVariant }, () => host.engineStats());
  const port = await server.listen();
  server.ready(new SingleModelCatalog(host));
  log('serving', { listen: config.listen, port, httpPort: server.httpPort, tls: Boolean(config.tls), auth: config.apiKeys.length > 0 });
  return {
    server,
    port,
    host,
    async stop(graceMs) {
      await server.shutdown(graceMs);
      await host.close();
    },
  };
}

/** Runs a mode as a process: JSON logs, SIGTERM/SIGINT → graceful shutdown. */
export function runMain(name: string, start: (env: NodeJS.ProcessEnv, log: Logger) => Promise<Running>): void {
  // JSON lines carrying trace_id/span_id of the active span (docs/observability.md).
  const log: Logger = createLogger(name);
  process.on('unhandledRejection', (e) => log('unhandled rejection', { error: String(e) }));
  start(process.env, log).then(
    (running) => {
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log('shutting down', { signal });
        running
          .stop()
          .then(() => activeTelemetry()?.shutdown()) // exports what is still buffered
          .then(
            () => process.exit(0),
            (e: unknown) => {
              log('shutdown failed', { error: String(e) });
              process.exit(1);
            },
          );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
