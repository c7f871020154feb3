/**
 * API keys: `authorization: Bearer <key>` (gRPC metadata or an HTTP header), checked against TRINE_API_KEYS (a
 * comma-separated list, or a path to a file with one key per line). With no keys configured, auth is off — allowed
 * only on loopback.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { TrineError, invalidArgument } from '@trine/core';

export function loadApiKeys(spec: string | undefined): string[] {
  if (!spec) return [];
  const raw = existsSync(spec) ? readFileSync(spec, 'utf8').split(/\r?\n/) : spec.split(',');
  return raw.map((k) => k.trim()).filter((k) => k.length > 0 && !k.startsWith('#'));
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export class ApiKeyAuth {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[], listenHost: string) {
    if (keys.length === 0 && !isLoopback(listenHost))
      throw invalidArgument('TRINE_API_KEYS', `no API keys configured while listening on ${listenHost}; auth may be off only on loopback`);
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /**
   * The caller's key (its identity for rate limits), or '' when auth is off. `authorization` is the header's value
   * as the front received it (gRPC metadata, HTTP header). Throws UNAUTHENTICATED.
   */
  check(authorization: string | undefined): string {
    if (!this.enabled) return '';
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) throw new TrineError('UNAUTHENTICATED', 'missing API key: send `authorization: Bearer <key>` metadata', { field: 'authorization' });
    const d = digest(m[1]!);
    // Compare digests in constant time so the check does not leak key prefixes.
    if (!this.digests.some((k) => timingSafeEqual(k, d))) throw new TrineError('UNAUTHENTICATED', 'unknown API key', { field: 'authorization' });
    return m[1]!;
  }
}
