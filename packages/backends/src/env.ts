/**
 * The one parser for the backend settings: `TRINE_BACKEND` / `TRINE_THREADS` / `TRINE_LM_HEAD` and the `--backend` /
 * `--threads` / `--lm-head` values. A bad value is INVALID_ARGUMENT naming where it came from (the variable or the flag).
 */
import { invalidArgument, type MatrixFormat } from '@trine/core';
import { BACKEND_NAMES, isBackendName, type BackendName } from './catalog.js';

export const MAX_THREADS = 1024;

export function parseBackendName(raw: string, field: string): BackendName {
  if (!isBackendName(raw)) throw invalidArgument(field, `unknown backend '${raw}' (known: ${BACKEND_NAMES.join(', ')})`);
  return raw;
}

export const LM_HEAD_FORMATS: readonly MatrixFormat[] = ['f16', 'f32', 'q8'];

/** `--lm-head` / `TRINE_LM_HEAD`: the LM head's storage (q8: one 8-bit copy of a tied matrix, embedding included). */
export function parseLmHead(raw: string, field: string): MatrixFormat {
  if (!(LM_HEAD_FORMATS as readonly string[]).includes(raw)) throw invalidArgument(field, `must be ${LM_HEAD_FORMATS.join(', ')}, got '${raw}'`);
  return raw as MatrixFormat;
}

export function parseThreads(raw: string | number, field: string): number {
  const n = typeof raw === 'number' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_THREADS) {
    throw invalidArgument(field, `must be an integer in [1, ${MAX_THREADS}], got '${String(raw)}'`);
  }
  return n;
}

export interface BackendSettings {
  /** The forced backend, if any. */
  readonly backend?: BackendName;
  /** What forced it (`--backend` or `TRINE_BACKEND`), for messages. */
  readonly forcedBy?: string;
  readonly threads?: number;
  /** LM head storage (`--lm-head` / `TRINE_LM_HEAD`); absent: the file's. */
  readonly lmHead?: MatrixFormat;
}

/** Flag values where given, else the environment; an empty variable counts as unset. */
export function backendSettings(
  flags: { readonly backend?: string | undefined; readonly threads?: string | number | undefined; readonly lmHead?: string | undefined } = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): BackendSettings {
  const [backendRaw, backendField] =
    flags.backend !== undefined ? [flags.backend, '--backend'] : env.TRINE_BACKEND ? [env.TRINE_BACKEND, 'TRINE_BACKEND'] : [undefined, undefined];
  const [threadsRaw, threadsField] =
    flags.threads !== undefined ? [flags.threads, '--threads'] : env.TRINE_THREADS ? [env.TRINE_THREADS, 'TRINE_THREADS'] : [undefined, undefined];
  const [lmRaw, lmField] =
    flags.lmHead !== undefined ? [flags.lmHead, '--lm-head'] : env.TRINE_LM_HEAD ? [env.TRINE_LM_HEAD, 'TRINE_LM_HEAD'] : [undefined, undefined];
  return {
    ...(backendRaw !== undefined ? { backend: parseBackendName(backendRaw, backendField!), forcedBy: backendField! } : {}),
    ...(threadsRaw !== undefined ? { threads: parseThreads(threadsRaw, threadsField!) } : {}),
    ...(lmRaw !== undefined ? { lmHead: parseLmHead(lmRaw, lmField!) } : {}),
  };
}
