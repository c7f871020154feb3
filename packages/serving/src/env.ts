/** Environment variables of the engine, shared by the worker and the standalone server (documented in apps/worker/README.md). */
import { invalidArgument } from '@trine/core';
import { backendSettings } from '@trine/backends';

export function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw invalidArgument(name, `expected an integer in [${min}, ${max}], got '${raw}'`);
  return v;
}

export interface EngineEnv {
  model?: string;
  backend?: string;
  threads?: number;
  /** TRINE_LM_HEAD: f16, f32 or q8 (absent: the file's). */
  lmHead?: 'f16' | 'f32' | 'q8';
  maxBatch: number;
  context?: number;
}

export function engineEnv(env: NodeJS.ProcessEnv = process.env): EngineEnv {
  const { backend, threads, lmHead } = backendSettings({}, env);
  const context = env.TRINE_CONTEXT ? envInt(env, 'TRINE_CONTEXT', 0, 1, 1 << 20) : undefined;
  return {
    ...(env.TRINE_MODEL ? { model: env.TRINE_MODEL } : {}),
    ...(backend ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(lmHead !== undefined ? { lmHead } : {}),
    ...(context !== undefined ? { context } : {}),
    maxBatch: envInt(env, 'TRINE_MAX_BATCH', 8, 1, 1024),
  };
}
