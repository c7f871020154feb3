/** Gateway settings from the environment (the table in apps/gateway/README.md). */
import { readFileSync } from 'node:fs';
import { invalidArgument } from '@trine/core';
import { envInt } from '@trine/serving';
import { loadApiKeys } from './auth.js';
import { parseRateLimit, type RateLimitConfig } from './rate-limit.js';
import { DEFAULT_LIMITS, type RequestLimits } from './validate.js';

export interface TlsConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** CA bundle for client certificates; with `requireClientCert` this is mTLS. */
  readonly ca?: Buffer;
  readonly requireClientCert: boolean;
}

export interface GatewayConfig {
  readonly listen: string;
  /** The OpenAI-compatible HTTP front's `host:port`; undefined when TRINE_HTTP_LISTEN=off. */
  readonly httpListen?: string;
  readonly apiKeys: string[];
  readonly tls?: TlsConfig;
  readonly maxQueue: number;
  readonly rateLimit?: RateLimitConfig;
  readonly maxRequestMs: number;
  readonly cacheTtlMs: number;
  readonly policy?: string;
  readonly limits: RequestLimits;
  readonly maxReceiveMessageBytes: number;
  readonly shutdownGraceMs: number;
}

function tlsFromEnv(env: NodeJS.ProcessEnv): TlsConfig | undefined {
  const cert = env.TRINE_TLS_CERT;
  const key = env.TRINE_TLS_KEY;
  if (!cert && !key) return undefined;
  if (!cert || !key) throw invalidArgument(cert ? 'TRINE_TLS_KEY' : 'TRINE_TLS_CERT', 'TLS needs both TRINE_TLS_CERT and TRINE_TLS_KEY');
  const ca = env.TRINE_TLS_CLIENT_CA;
  return { cert: readFileSync(cert), key: readFileSync(key), ...(ca ? { ca: readFileSync(ca) } : {}), requireClientCert: Boolean(ca) };
}

export function gatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const rateLimit = parseRateLimit(env.TRINE_RATE_LIMIT);
  const tls = tlsFromEnv(env);
  return {
    listen: env.TRINE_LISTEN || '127.0.0.1:50051',
    ...httpListenOf(env),
    apiKeys: loadApiKeys(env.TRINE_API_KEYS),
    ...(tls ? { tls } : {}),
    maxQueue: envInt(env, 'TRINE_MAX_QUEUE', 256, 0),
    ...(rateLimit ? { rateLimit } : {}),
    maxRequestMs: envInt(env, 'TRINE_MAX_REQUEST_MS', 600_000, 1),
    cacheTtlMs: envInt(env, 'TRINE_CACHE_TTL_MS', 300_000, 0),
    ...(env.TRINE_POLICY_BLOCKLIST ? { policy: env.TRINE_POLICY_BLOCKLIST } : {}),
    limits: {
      ...DEFAULT_LIMITS,
      maxPromptBytes: envInt(env, 'TRINE_MAX_PROMPT_BYTES', DEFAULT_LIMITS.maxPromptBytes, 1, 64 << 20),
      maxNewTokens: envInt(env, 'TRINE_MAX_NEW_TOKENS', DEFAULT_LIMITS.maxNewTokens, 1),
    },
    maxReceiveMessageBytes: envInt(env, 'TRINE_MAX_MESSAGE_BYTES', 1 << 20, 1024, 64 << 20),
    shutdownGraceMs: envInt(env, 'TRINE_SHUTDOWN_GRACE_MS', 10_000, 0),
  };
}

/**
 * TRINE_HTTP_LISTEN: `host:port`, or `off`. Unset, it is 127.0.0.1:8080 — except when TRINE_LISTEN asks for a
 * free port (`:0`, as tests and embedders do), where the HTTP front takes a free port too rather than collide on 8080.
 */
function httpListenOf(env: NodeJS.ProcessEnv): { httpListen?: string } {
  const v = env.TRINE_HTTP_LISTEN?.trim();
  if (v === 'off') return {};
  if (v) {
    const port = Number(/:(\d+)$/.exec(v)?.[1] ?? NaN);
    if (!(port >= 0 && port <= 65535)) throw invalidArgument('TRINE_HTTP_LISTEN', `must be host:port or off, got '${v.slice(0, 100)}'`);
    return { httpListen: v };
  }
  return { httpListen: /:0$/.test(env.TRINE_LISTEN ?? '') ? '127.0.0.1:0' : '127.0.0.1:8080' };
}

/** Host part of `host:port` / `[v6]:port`. */
export function hostOf(listen: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(listen);
  if (m) return m[1]!;
  const i = listen.lastIndexOf(':');
  return i < 0 ? listen : listen.slice(0, i);
}
