import { createTokenizer, invalidArgument, openModel, tokenizeText } from '@trine/core';
import { parseArgs, type FlagSpec } from '@trine/args';
import { MODEL_FLAG } from './common.js';
import { defaultModelPath } from './model-path.js';

export const TOKENIZE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  model: MODEL_FLAG,
  chat: { kind: 'boolean', help: "render TEXT as one user turn with the model's chat template first" },
};

/** Only the tokenizer is needed: the weights are never read. */
export async function runTokenize(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, TOKENIZE_FLAGS);
  if (positionals.length !== 1) {
    throw invalidArgument('TEXT', positionals.length === 0 ? 'is required' : 'must be one argument (quote it)');
  }
  const source = await openModel((flags.model as string | undefined) ?? (await defaultModelPath()));
  try {
    const ids = tokenizeText(createTokenizer(source.tokenizer), source.config.arch, positionals[0]!, { chat: flags.chat === true });
    process.stdout.write(`${JSON.stringify(ids)}\n`);
    return 0;
  } finally {
    await source.close();
  }
}
