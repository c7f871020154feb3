/**
 * `trine perplexity`: text quality as llama.cpp's llama-perplexity measures it (core's `perplexity`: windows of
 * --ctx tokens, the second half of each scored), with its standard error and the evaluation's tokens per second.
 */
import {
  BitNetModel,
  createTokenizer,
  invalidArgument,
  modelWindowLogits,
  openModel,
  perplexity,
  type Handles,
} from '@trine/core';
import { describeSelection, selectBackend } from '@trine/backends';
import { readFile } from 'node:fs/promises';
import { parseArgs, type FlagSpec } from '@trine/args';
import { BACKEND_FLAG, backendFlags, LM_HEAD_FLAG, MODEL_FLAG, THREADS_FLAG, type CommandContext } from './common.js';
import { defaultModelPath } from './model-path.js';

export const PERPLEXITY_FLAGS: Readonly<Record<string, FlagSpec>> = {
  model: MODEL_FLAG,
  text: { kind: 'string', short: 'f', value: 'FILE', help: 'UTF-8 text file to score (required)' },
  ctx: { kind: 'int', short: 'c', min: 4, help: "tokens per window; the second half of each is scored (default: the model's context)" },
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
  'lm-head': LM_HEAD_FLAG,
  kv: { kind: 'string', oneOf: ['f16', 'f32'], help: 'KV cache element type (default f16)' },
  json: { kind: 'boolean', help: 'print one JSON object' },
};

export async function runPerplexity(argv: string[], ctx: CommandContext): Promise<number> {
  const { flags, positionals } = parseArgs(argv, PERPLEXITY_FLAGS);
  if (positionals.length > 0) throw invalidArgument('text', `unexpected argument '${positionals[0]}' (pass the file with --text)`);
  const textPath = flags.text as string | undefined;
  if (textPath === undefined) throw invalidArgument('--text', 'is required');
  const text = await readFile(textPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw invalidArgument('--text', `cannot read ${textPath} (${e.code ?? e.message})`);
  });
  const modelPath = (flags.model as string | undefined) ?? (await defaultModelPath());
  const settings = backendFlags(flags);
  const selection = await selectBackend({ model: modelPath, settings });
  if (ctx.verbose) process.stderr.write(`trine: backend ${describeSelection(selection)}\n`);
  const backend = await selection.factory.create(settings.threads !== undefined ? { threads: settings.threads } : {});
  const source = await openModel(modelPath);
  let model: BitNetModel<Handles> | undefined;
  try {
    const window = (flags.ctx as number | undefined) ?? source.config.context;
    if (window > source.config.context) throw invalidArgument('--ctx', `must be at most the model's context ${source.config.context}, got ${window}`);
    const tokenizer = createTokenizer(source.tokenizer);
    // As llama-perplexity: the text tokenized with BOS (where the model adds one), then cut into windows.
    const tokens = tokenizer.encode(text);
    model = await BitNetModel.load(source, backend, {
      slots: 1,
      context: window,
      maxBatchTokens: window,
      ...(settings.lmHead !== undefined ? { lmHeadFormat: settings.lmHead } : {}),
      ...(flags.kv !== undefined ? { kvDtype: flags.kv as 'f16' | 'f32' } : {}),
    });
    const bos = tokenizer.spec.addBos ? tokenizer.bosId : undefined;
    const t0 = performance.now();
    const r = await perplexity(tokens, window, source.config.vocab, bos, modelWindowLogits(model, backend));
    const seconds = (performance.now() - t0) / 1000;
    const tokensPerSecond = r.evaluated / seconds;
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify({ ...r, ctx: window, backend: selection.name, seconds, tokensPerSecond })}\n`);
    } else {
      process.stdout.write(
        `perplexity ${r.perplexity.toFixed(4)} ± ${r.stderr.toFixed(4)}  (${r.scored} tokens scored in ${r.windows} windows of ${window})\n` +
          `${tokensPerSecond.toFixed(1)} tokens/s on ${selection.name} (${r.evaluated} tokens in ${seconds.toFixed(2)} s)\n`,
      );
    }
    return 0;
  } finally {
    model?.dispose();
    await source.close();
    backend.destroy();
  }
}
