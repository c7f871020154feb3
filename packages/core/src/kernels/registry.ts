/**
 * Backend start-up (onnxruntime-web's resolveBackend): `resolveBackend` tries the factories it is given best first,
 * falls back on failure, and throws one BACKEND_UNAVAILABLE error listing every failure. Which factories exist and
 * which one a host should run is @trine/backends' catalog; core keeps no registry of its own.
 */
import { TrineError } from '../errors/index.js';
import type { BitNetConfig } from '../model/config.js';
import type { BackendFactory, BackendOptions, Handles, KernelBackend, KernelVariant, MatrixFormat } from './spec.js';
import { KERNEL_NAMES } from './ops.js';
import { variantKey } from './validate.js';

function byPriority(list: readonly BackendFactory[]): BackendFactory[] {
  return [...list].sort((a, b) => b.priority - a.priority);
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface ResolveOptions {
  /** The factories to choose from. */
  candidates: readonly BackendFactory[];
  /** Use exactly this backend; failure to create it is an error, with no fallback. */
  force?: string;
  options?: BackendOptions;
}

/** Create the best backend of `candidates` this host can run (or the forced one). */
export async function resolveBackend(opts: ResolveOptions): Promise<KernelBackend> {
  const pool = byPriority(opts.candidates);
  if (opts.force !== undefined) {
    const f = pool.find((c) => c.name === opts.force);
    if (!f)
      throw new TrineError(
        'BACKEND_UNAVAILABLE',
        `backend '${opts.force}' is not available (known: ${pool.map((c) => c.name).join(', ') || 'none'})`,
        { field: 'backend' },
      );
    try {
      return await f.create(opts.options);
    } catch (e) {
      throw new TrineError('BACKEND_UNAVAILABLE', `backend '${f.name}' failed to start: ${reasonOf(e)}`, {
        field: 'backend',
        cause: e,
      });
    }
  }
  const failures: string[] = [];
  const causes: unknown[] = [];
  for (const f of pool) {
    try {
      return await f.create(opts.options);
    } catch (e) {
      failures.push(`${f.name}: ${reasonOf(e)}`);
      causes.push(e);
    }
  }
  throw new TrineError(
    'BACKEND_UNAVAILABLE',
    pool.length === 0 ? 'no backend to choose from' : `no backend could start (${failures.join('; ')})`,
    { field: 'backend', cause: new AggregateError(causes, 'backend failures') },
  );
}

export interface ModelOpNeeds {
  /** Matrix format of the LM head (and of the embedding when tied): default f16. */
  lmHeadFormat?: MatrixFormat;
  /** Format of the embedding table when it differs from the LM head's. */
  embeddingFormat?: MatrixFormat;
  kvDtype?: 'f16' | 'f32';
}

/** Every op variant a model with this config runs. */
export function requiredVariants(config: BitNetConfig, needs: ModelOpNeeds = {}): KernelVariant[] {
  const lm = needs.lmHeadFormat ?? 'f16';
  const kv = needs.kvDtype ?? 'f16';
  const out: KernelVariant[] = KERNEL_NAMES.filter((n) => n !== 'ternaryMatmulAcc').map((op) => ({ op }));
  out.push(
    { op: 'quantizeActs', scheme: config.actQuant },
    { op: 'ternaryMatmul', scheme: config.actQuant },
    { op: 'embedding', format: needs.embeddingFormat ?? lm },
    { op: 'lmHead', format: lm },
    { op: 'kvStore', dtype: kv, headDim: config.headDim },
    { op: 'attention', dtype: kv, headDim: config.headDim },
    { op: 'gatedActivation', act: config.activation },
  );
  return out;
}

/** The variants a model needs that `backend` does not support, each with the backend's reason (empty: all good). */
export function missingOps<H extends Handles>(
  backend: KernelBackend<H>,
  config: BitNetConfig,
  needs: ModelOpNeeds = {},
): { variant: KernelVariant; key: string; reason: string }[] {
  const missing: { variant: KernelVariant; key: string; reason: string }[] = [];
  for (const v of requiredVariants(config, needs)) {
    const s = backend.supports(v);
    if (!s.ok) missing.push({ variant: v, key: variantKey(v), reason: s.reason });
  }
  return missing;
}
