import { Engine, invalidArgument, type EngineLoadOptions } from '@trine/core';
import type { FlagSpec, FlagValues } from '@trine/args';
import { registerInstalledBackends } from '../backends.js';
import { progressBar } from '../progress.js';

export const BACKEND_FLAG: FlagSpec = { kind: 'string', help: 'force a backend: reference, cpu, wasm, webgpu (default: best available, or $TRINE_BACKEND)' };
export const THREADS_FLAG: FlagSpec = { kind: 'int', short: 't', min: 1, max: 1024, help: 'CPU threads (default: physical cores, or $TRINE_THREADS)' };
export const MODEL_FLAG: FlagSpec = { kind: 'string', short: 'm', value: 'FILE', help: 'GGUF file or Hugging Face directory (default: the built-in 3.4 M-parameter trained model)' };

function envThreads(): number | undefined {
  const raw = process.env.TRINE_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw invalidArgument('TRINE_THREADS', `must be a positive integer, got '${raw}'`);
  return n;
}

/** Loads an engine from the common flags, with a progress bar on a terminal. */
export async function loadEngine(flags: FlagValues, extra: Partial<EngineLoadOptions> = {}): Promise<Engine> {
  await registerInstalledBackends();
  const bar = progressBar();
  const backend = (flags.backend as string | undefined) ?? (process.env.TRINE_BACKEND || undefined);
  const threads = (flags.threads as number | undefined) ?? envThreads();
  try {
    return await Engine.load({
      ...(flags.model !== undefined ? { model: flags.model as string } : {}),
      ...(backend !== undefined ? { backend } : {}),
      ...(threads !== undefined ? { threads } : {}),
      onProgress: (p) => bar.update(p.loadedBytes, p.totalBytes),
      ...extra,
    });
  } finally {
    bar.end();
  }
}
