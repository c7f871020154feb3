import { DEFAULT_MODEL_NAME, describeModel, formatModelDescription, invalidArgument } from '@trine/core';
import { describeSelection, selectBackend } from '@trine/backends';
import { parseArgs, type FlagSpec } from '@trine/args';
import { BACKEND_FLAG, backendFlags, THREADS_FLAG } from './common.js';

export const INFO_FLAGS: Readonly<Record<string, FlagSpec>> = {
  json: { kind: 'boolean', help: 'print the description as JSON' },
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
};

const RANDOM_NOTE = "note:         Trine's random-weight test model: its weights are RANDOM, so its text is gibberish";

/**
 * Reads the file's header, and says which backend `trine generate` runs it on here and why: forced, or the cached
 * measurement, or (the first time on this host) the measurement itself, which is then cached.
 */
export async function runInfo(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, INFO_FLAGS);
  if (positionals.length !== 1) throw invalidArgument('FILE', positionals.length === 0 ? 'is required' : 'must be one path');
  const d = await describeModel(positionals[0]!);
  const randomWeights = d.name === DEFAULT_MODEL_NAME;
  const selection = await selectBackend({ model: positionals[0]!, settings: backendFlags(flags) });
  const backend = { name: selection.name, how: selection.how, reason: selection.reason, trials: selection.trials, ...(selection.measuredAt ? { measuredAt: selection.measuredAt } : {}) };
  if (flags.json) process.stdout.write(`${JSON.stringify({ ...d, randomWeights, backend }, null, 2)}\n`);
  else {
    // What each backend picked by measuring in its trial (the CPU backend: a batch-1 kernel per matrix shape).
    const tuning = selection.trials.flatMap((t) => (t.tuning ?? []).map((line) => `kernels:      ${t.name} ${line}\n`));
    process.stdout.write(`${formatModelDescription(d)}\n${randomWeights ? `${RANDOM_NOTE}\n` : ''}backend:      ${describeSelection(selection)}\n${tuning.join('')}`);
  }
  return 0;
}
