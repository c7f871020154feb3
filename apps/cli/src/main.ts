/**
 * `trine`: generate, tokenize, info, conformance. Errors print one sentence on stderr and exit non-zero
 * (2 for usage errors, 1 otherwise); --verbose adds the stack.
 */
import { TrineError } from '@trine/core';
import { BACKEND_NAMES } from '@trine/backends';
import type { CommandContext } from './commands/common.js';
import { CHAT_FLAGS, runChat } from './commands/chat.js';
import { runConformance } from './commands/conformance.js';
import { GENERATE_FLAGS, runGenerate } from './commands/generate.js';
import { CONVERT_FLAGS, runConvert } from './commands/convert.js';
import { resolveModelArgs } from './commands/hf-model.js';
import { INFO_FLAGS, runInfo } from './commands/info.js';
import { MODELS_FLAGS, runModels } from './commands/models.js';
import { PERPLEXITY_FLAGS, runPerplexity } from './commands/perplexity.js';
import { PULL_FLAGS, runPull } from './commands/pull.js';
import { runTokenize, TOKENIZE_FLAGS } from './commands/tokenize.js';
import { flagHelp, type FlagSpec } from '@trine/args';

/** `flags` undefined: the command parses its own flags and prints its own help. */
const COMMANDS: Record<string, { usage: string; flags?: Readonly<Record<string, FlagSpec>>; run: (argv: string[], ctx: CommandContext) => Promise<number> }> = {
  generate: {
    usage: 'trine generate [--model FILE] --prompt TEXT [options]   stream a completion (default model: built-in, 3.4 M parameters)',
    flags: GENERATE_FLAGS,
    run: runGenerate,
  },
  chat: {
    usage: 'trine chat [--model FILE] [--system TEXT] [options]     multi-turn chat: /reset, /save FILE, /load FILE; Ctrl-C stops a reply',
    flags: CHAT_FLAGS,
    run: runChat,
  },
  tokenize: {
    usage: 'trine tokenize [--model FILE] [--chat] TEXT              print token ids as a JSON array',
    flags: TOKENIZE_FLAGS,
    run: runTokenize,
  },
  info: {
    usage: 'trine info FILE                                         describe a model file and the backend it runs on here',
    flags: INFO_FLAGS,
    run: runInfo,
  },
  perplexity: {
    usage: 'trine perplexity [--model FILE] --text FILE [--ctx N]     perplexity of a text (llama-perplexity method), its ± and tokens/s',
    flags: PERPLEXITY_FLAGS,
    run: runPerplexity,
  },
  conformance: {
    usage: 'trine conformance [--backend NAME]                      cross-backend conformance suite',
    run: runConformance,
  },
  pull: {
    usage: 'trine pull ORG/NAME[@REVISION] [--file NAME]            download a model from the Hugging Face Hub into its cache',
    flags: PULL_FLAGS,
    run: runPull,
  },
  models: {
    usage: 'trine models [rm ORG/NAME[@REVISION][/FILE]]            list (or remove) the models in the Hugging Face cache',
    flags: MODELS_FLAGS,
    run: runModels,
  },
  convert: {
    usage: 'trine convert DIR|hf:ORG/NAME --type i2_s|tq2_0|tq1_0 [-o FILE]  a BitNet checkpoint to a GGUF for bitnet.cpp / llama.cpp',
    flags: CONVERT_FLAGS,
    run: runConvert,
  },
};

function usage(): string {
  return [
    'Usage:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}`),
    '',
    'Run `trine <command> --help` for its options; --verbose adds stack traces to errors and says which backend runs and why.',
    `Backends: ${BACKEND_NAMES.join(', ')} (the installed ones; --backend or TRINE_BACKEND forces one, else the fastest that`,
    'passes a check against the reference, measured once per host and model and cached).',
  ].join('\n');
}

function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  const flags = c.flags ? flagHelp(c.flags) : '';
  return `Usage: ${c.usage}\n${flags ? `\nOptions:\n${flags}\n` : ''}`;
}

/** One sentence for the user: TrineErrors carry it; anything else is reported as unexpected. */
export function describeError(e: unknown): string {
  if (TrineError.is(e)) return e.message.endsWith('.') ? e.message : `${e.message}.`;
  if (e instanceof Error) return `unexpected error: ${e.message} (run with --verbose for details)`;
  return `unexpected error: ${String(e)}`;
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`trine: unknown command '${name}'.\n${usage()}\n`);
    return 2;
  }
  if (command.flags && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(commandHelp(name));
    return 0;
  }
  try {
    // A model named hf:ORG/NAME is pulled (or found in the cache) here, so every command opens a local path.
    return await command.run(await resolveModelArgs(name, rest), { verbose });
  } catch (e) {
    process.stderr.write(`trine ${name}: ${describeError(e)}\n`);
    if (verbose && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n${e.cause ? `cause: ${String(e.cause)}\n` : ''}`);
    return TrineError.is(e, 'INVALID_ARGUMENT') ? 2 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`trine: ${describeError(e)}\n`);
    process.exitCode = 1;
  },
);
