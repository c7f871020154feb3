import { DEFAULT_MODEL_NAME, describeModel, formatModelDescription, invalidArgument } from '@trine/core';
import { parseArgs, type FlagSpec } from '@trine/args';

export const INFO_FLAGS: Readonly<Record<string, FlagSpec>> = {
  json: { kind: 'boolean', help: 'print the description as JSON' },
};

const RANDOM_NOTE = "note:         Trine's random-weight test model: its weights are RANDOM, so its text is gibberish";

/** Reads the file's header only (no weights are loaded). */
export async function runInfo(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, INFO_FLAGS);
  if (positionals.length !== 1) throw invalidArgument('FILE', positionals.length === 0 ? 'is required' : 'must be one path');
  const d = await describeModel(positionals[0]!);
  const randomWeights = d.name === DEFAULT_MODEL_NAME;
  if (flags.json) process.stdout.write(`${JSON.stringify({ ...d, randomWeights }, null, 2)}\n`);
  else process.stdout.write(`${formatModelDescription(d)}\n${randomWeights ? `${RANDOM_NOTE}\n` : ''}`);
  return 0;
}
