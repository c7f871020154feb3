import type { Engine } from '@trine/core';
import { BACKEND_NAMES, backendSettings, describeSelection, loadEngine as loadOnSelectedBackend, type BackendSettings } from '@trine/backends';
import type { FlagSpec, FlagValues } from '@trine/args';
import { progressBar } from '../progress.js';

export const BACKEND_FLAG: FlagSpec = {
  kind: 'string',
  help: `force a backend: ${BACKEND_NAMES.join(', ')} (default: $TRINE_BACKEND, else the fastest that passes a check on this host, measured once per host and model)`,
};
// A string: the value is parsed with TRINE_THREADS by @trine/backends, the one parser of both.
export const THREADS_FLAG: FlagSpec = { kind: 'string', short: 't', value: 'N', help: 'CPU threads (default: $TRINE_THREADS, else physical cores)' };
export const LM_HEAD_FLAG: FlagSpec = {
  kind: 'string',
  oneOf: ['f16', 'f32', 'q8'],
  help: "LM head storage (default: $TRINE_LM_HEAD, else the file's, f16); q8 keeps one 8-bit copy of a tied matrix, embedding included",
};
export const MODEL_FLAG: FlagSpec = { kind: 'string', short: 'm', value: 'FILE', help: 'GGUF file or Hugging Face directory (default: the built-in 3.4 M-parameter trained model)' };

/** What every command is told besides its arguments. */
export interface CommandContext {
  /** --verbose: stack traces on errors, and which backend runs and why. */
  readonly verbose: boolean;
}

/** --backend / --threads / --lm-head, else TRINE_BACKEND / TRINE_THREADS / TRINE_LM_HEAD. */
export function backendFlags(flags: FlagValues): BackendSettings {
  return backendSettings({ backend: flags.backend as string | undefined, threads: flags.threads as string | undefined, lmHead: flags['lm-head'] as string | undefined });
}

/** Loads an engine from the common flags on the selected backend, with a progress bar on a terminal. */
export async function loadEngine(flags: FlagValues, options: { verbose?: boolean } = {}): Promise<Engine> {
  const settings = backendFlags(flags);
  const bar = progressBar();
  try {
    const { engine, selection } = await loadOnSelectedBackend({
      ...(flags.model !== undefined ? { model: flags.model as string } : {}),
      settings,
      onProgress: (p) => bar.update(p.loadedBytes, p.totalBytes),
    });
    if (options.verbose) process.stderr.write(`trine: backend ${describeSelection(selection)}\n`);
    return engine;
  } finally {
    bar.end();
  }
}
