import { invalidArgument, openModel } from '@trine/core';
import { parseArgs, type FlagSpec } from '../args.js';

export const INFO_FLAGS: Readonly<Record<string, FlagSpec>> = {
  json: { kind: 'boolean', help: 'print the description as JSON' },
};

export async function runInfo(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, INFO_FLAGS);
  if (positionals.length !== 1) throw invalidArgument('FILE', positionals.length === 0 ? 'is required' : 'must be one path');
  const source = await openModel(positionals[0]!);
  try {
    const c = source.config;
    const info = {
      name: source.name,
      format: source.format,
      config: c,
      weightBytes: source.weightBytes,
      tensors: source.tensors,
      tokenizer: { model: source.tokenizer.model, vocab: source.tokenizer.tokens.length, chatTemplate: source.tokenizer.chatTemplate ?? null },
    };
    process.stdout.write(flags.json ? `${JSON.stringify(info, null, 2)}\n` : `${JSON.stringify(info, null, 2)}\n`);
    return 0;
  } finally {
    await source.close();
  }
}
