/**
 * Requests to the Hub: the token goes only to the Hub's own origin (never to the CDN a download redirects to),
 * redirects are followed by hand so the Hub's own headers can be read, and failures become one clear TrineError.
 * Network failures, 5xx and 429 are retried with exponential backoff; 4xx are answered at once.
 */
import { TrineError } from '@trine/core';
import type { HubSettings } from './settings.js';

export interface RequestContext {
  repo: string;
  revision?: string;
  file?: string;
}

export interface HttpOptions {
  settings: HubSettings;
  /** Tries after the first for a network failure, 5xx or 429 (default 4). */
  retries?: number;
  /** First backoff; doubles each try (default 500 ms). */
  backoffMs?: number;
  /** A body that sends nothing for this long is cut and resumed (default 60 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  /** One line per retry, for the user. */
  log?: (line: string) => void;
}

const MAX_REDIRECTS = 10;

/** A failure worth another try (network, 5xx, 429, a body cut short); anything else is thrown as it is. */
export class RetriableError extends Error {
  constructor(message: string, readonly causeError?: unknown) {
    super(message);
  }
}

function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}

function what(ctx: RequestContext): string {
  return `${ctx.repo}${ctx.revision ? `@${ctx.revision}` : ''}${ctx.file ? `/${ctx.file}` : ''}`;
}

/** The one line a user sees for a 4xx from the Hub, using the X-Error-Code the Hub sends. */
export function statusError(res: Response, ctx: RequestContext, settings: HubSettings): TrineError {
  const hubCode = res.headers.get('x-error-code') ?? '';
  const hubMessage = res.headers.get('x-error-message');
  const detail = hubMessage ? ` (${hubMessage})` : '';
  if (res.status === 401 || res.status === 403 || hubCode === 'GatedRepo') {
    const why = hubCode === 'GatedRepo'
      ? 'the repository is gated: accept its conditions on the model page, then'
      : 'the repository is private or gated, or does not exist:';
    const tokenHint = settings.token ? 'check that HF_TOKEN can read it' : 'set HF_TOKEN to a token that can read it';
    return new TrineError('UNAUTHENTICATED', `${what(ctx)}: access denied (HTTP ${res.status}): ${why} ${tokenHint}${detail}`, { field: 'HF_TOKEN' });
  }
  if (res.status === 404) {
    if (hubCode === 'RevisionNotFound') return new TrineError('NOT_FOUND', `${ctx.repo}: revision '${ctx.revision ?? 'main'}' not found (HTTP 404)${detail}`, { field: 'revision' });
    if (hubCode === 'EntryNotFound' || (ctx.file && hubCode !== 'RepoNotFound')) {
      return new TrineError('NOT_FOUND', `${ctx.repo}: file '${ctx.file ?? '?'}' not found at revision '${ctx.revision ?? 'main'}' (HTTP 404)${detail}`, { field: 'file' });
    }
    return new TrineError('NOT_FOUND', `repository ${ctx.repo} not found on ${settings.endpoint} (HTTP 404)${detail}`, { field: 'repo' });
  }
  return new TrineError('INVALID_ARGUMENT', `${what(ctx)}: the Hub refused the request (HTTP ${res.status})${detail}`);
}

function retriableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export interface HubResponse {
  res: Response;
  /** The URL that answered (after redirects). */
  url: string;
  /** The first response's headers when a redirect to another origin was followed (the Hub's own headers). */
  hubHeaders: Headers;
}

export class HubHttp {
  readonly retries: number;
  readonly backoffMs: number;
  readonly idleTimeoutMs: number;
  private readonly origin: string;

  constructor(private readonly options: HttpOptions) {
    this.retries = options.retries ?? 4;
    this.backoffMs = options.backoffMs ?? 500;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.origin = new URL(options.settings.endpoint).origin;
  }

  get settings(): HubSettings {
    return this.options.settings;
  }

  url(path: string): string {
    return `${this.options.settings.endpoint}${path}`;
  }

  private headersFor(url: string, extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': 'trine-hub/0.1', ...extra };
    // The token is for the Hub only: a redirect to a CDN or another host must not receive it.
    if (this.options.settings.token && new URL(url).origin === this.origin) h.authorization = `Bearer ${this.options.settings.token}`;
    return h;
  }

  /**
   * One request, following redirects. `stopAtOtherOrigin` stops at a redirect to another origin and returns it
   * (a HEAD for file metadata reads the Hub's headers, not the CDN's). 4xx → TrineError; network/5xx → RetriableError.
   */
  async send(method: 'GET' | 'HEAD', url: string, ctx: RequestContext, extra: Record<string, string> = {},
    stopAtOtherOrigin = false, signal?: AbortSignal): Promise<HubResponse> {
    let current = url;
    let hubHeaders: Headers | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let res: Response;
      try {
        res = await fetch(current, { method, headers: this.headersFor(current, extra), redirect: 'manual', signal: signal ?? this.options.signal ?? null });
      } catch (e) {
        if (this.options.signal?.aborted) throw new TrineError('CANCELLED', 'download cancelled', { cause: e });
        throw new RetriableError(`cannot reach ${new URL(current).host}: ${networkReason(e)}`, e);
      }
      hubHeaders ??= res.headers;
      if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
        const next = new URL(res.headers.get('location')!, current).toString();
        await res.body?.cancel();
        if (stopAtOtherOrigin && new URL(next).origin !== new URL(current).origin) return { res, url: next, hubHeaders };
        current = next;
        continue;
      }
      if (res.ok) return { res, url: current, hubHeaders };
      await res.body?.cancel();
      if (retriableStatus(res.status)) throw new RetriableError(`${new URL(current).host} answered HTTP ${res.status}`);
      throw statusError(res, ctx, this.options.settings);
    }
    throw new TrineError('UNAVAILABLE', `${what(ctx)}: more than ${MAX_REDIRECTS} redirects from ${url}`);
  }

  /** Runs `attempt` until it succeeds, retrying RetriableErrors with backoff; then one clear UNAVAILABLE error. */
  async withRetry<T>(ctx: RequestContext, attempt: (tryIndex: number) => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt(i);
      } catch (e) {
        if (!(e instanceof RetriableError)) throw e;
        if (i >= this.retries) {
          throw new TrineError('UNAVAILABLE', `${what(ctx)}: ${e.message} (gave up after ${i + 1} tries); check the network, or set HF_HUB_OFFLINE=1 to use only the cache`, { cause: e.causeError ?? e });
        }
        const wait = this.backoffMs * 2 ** i;
        this.options.log?.(`${what(ctx)}: ${e.message}; retrying in ${(wait / 1000).toFixed(1)} s (${i + 1}/${this.retries})`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** GET and parse a JSON document, with retries. */
  async getJson(path: string, ctx: RequestContext): Promise<unknown> {
    return this.withRetry(ctx, async () => {
      const { res } = await this.send('GET', this.url(path), ctx, { accept: 'application/json' });
      let text: string;
      try {
        text = await res.text();
      } catch (e) {
        throw new RetriableError(`the connection was cut while reading ${path}: ${networkReason(e)}`, e);
      }
      try {
        return JSON.parse(text) as unknown;
      } catch (e) {
        throw new TrineError('UNAVAILABLE', `${what(ctx)}: the Hub sent malformed JSON for ${path}`, { cause: e });
      }
    });
  }
}
