import { invalidArgument } from '@trine/core';
import { type PullResult, formatHfRef, parseHfRef, pull } from '@trine/hub';
import { parseArgs, type FlagSpec } from '@trine/args';
import { pullReporter } from './hf-model.js';

export const PULL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  file: { kind: 'string', help: 'this file of the repo instead of the one Trine picks (I2_S, then TQ2_0, then TQ1_0)' },
  json: { kind: 'boolean', help: 'print what was pulled as JSON' },
};

/** `trine pull REPO[@REVISION] [--file NAME]`: into the Hugging Face cache; prints the path to pass as --model. */
export async function runPull(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, PULL_FLAGS);
  if (positionals.length !== 1) throw invalidArgument('REPO', positionals.length === 0 ? 'is required (org/name[@revision])' : 'must be one repository');
  const ref = parseHfRef(positionals[0]!, 'REPO');
  const reporter = pullReporter();
  let result: PullResult;
  try {
    result = await pull(ref, { ...(flags.file !== undefined ? { file: flags.file as string } : {}), onEvent: reporter.onEvent });
  } finally {
    reporter.end();
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const name = formatHfRef({ repo: result.repo, revision: result.revision, file: undefined });
  process.stderr.write(`${name} is commit ${result.commit}${result.fromCache ? ' (from the cache, not checked with the Hub)' : ''}\n`);
  process.stdout.write(`${result.modelPath}\n`);
  return 0;
}
