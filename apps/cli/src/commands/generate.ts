import { readFile } from 'node:fs/promises';
import { DEFAULT_SAMPLING, invalidArgument, MAX_PROMPT_LOOKUP, SAMPLING_LIMITS, TrineError, type EngineRequest, type ResponseFormat, type SamplingParams } from '@trine/core';
import { parseArgs, type FlagSpec } from '@trine/args';
import { BACKEND_FLAG, LM_HEAD_FLAG, loadEngine, MODEL_FLAG, THREADS_FLAG, type CommandContext } from './common.js';

export const GENERATE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  model: MODEL_FLAG,
  prompt: { kind: 'string', short: 'p', value: 'TEXT', allowEmpty: true, help: 'the prompt text (required)' },
  chat: { kind: 'boolean', help: "render the prompt as one user turn with the model's chat template" },
  'max-tokens': { kind: 'int', short: 'n', aliases: ['n-predict'], min: 1, help: `tokens to generate at most (default ${DEFAULT_SAMPLING.maxTokens})` },
  temperature: { kind: 'number', aliases: ['temp'], min: 0, max: SAMPLING_LIMITS.maxTemperature, help: 'sampling temperature; 0 = greedy (default 0)' },
  'top-p': { kind: 'number', above: 0, max: 1, help: 'nucleus sampling mass in (0, 1] (default 1)' },
  'top-k': { kind: 'int', min: 0, help: 'keep the K most likely tokens; 0 = off (default 0)' },
  'repetition-penalty': { kind: 'number', aliases: ['repeat-penalty'], above: 0, help: 'penalty > 1 for tokens already seen; 1 = off (default 1)' },
  seed: { kind: 'int', short: 's', help: 'PRNG seed: the same seed gives the same tokens on every backend' },
  'top-logprobs': { kind: 'int', min: 0, max: SAMPLING_LIMITS.maxTopLogprobs, help: 'report the K most likely tokens per step (with --json)' },
  'min-p': { kind: 'number', min: 0, max: 1, help: 'keep tokens at least this fraction as likely as the top one; 0 = off (default 0)' },
  'typical-p': { kind: 'number', above: 0, max: 1, help: 'locally typical sampling mass in (0, 1]; 1 = off (default 1)' },
  'presence-penalty': { kind: 'number', min: -2, max: 2, help: "subtract from tokens already in the output, once (OpenAI's; default 0)" },
  'frequency-penalty': { kind: 'number', min: -2, max: 2, help: "subtract from tokens already in the output, per occurrence (OpenAI's; default 0)" },
  'logit-bias': { kind: 'strings', value: 'ID=BIAS', help: 'add BIAS in [-100, 100] to token ID\'s logit (repeatable; -100 bans, +100 forces)' },
  'ignore-eos': { kind: 'boolean', help: 'never stop at end-of-generation: run to --max-tokens' },
  stop: { kind: 'strings', value: 'TEXT', help: 'stop before this string' },
  lookup: { kind: 'int', min: 0, max: MAX_PROMPT_LOOKUP, value: 'K', help: 'prompt-lookup decoding: draft up to K tokens a step from earlier n-grams of the prompt and output (greedy or seeded sampling: the same tokens as without, fewer steps on text that repeats; default 0 = off, or $TRINE_PROMPT_LOOKUP)' },
  'json-schema': { kind: 'string', value: 'FILE', help: 'constrain the output to JSON valid under this JSON Schema file' },
  grammar: { kind: 'string', value: 'FILE', help: "constrain the output to this GBNF grammar file (llama.cpp's format, from rule root)" },
  regex: { kind: 'string', value: 'PATTERN', help: 'constrain the output to text this regular expression matches whole' },
  'json-object': { kind: 'boolean', help: 'constrain the output to one JSON object (JSON mode)' },
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
  'lm-head': LM_HEAD_FLAG,
  json: { kind: 'boolean', help: 'print one JSON object (text, token_ids, finish_reason, usage, timings, top_logprobs)' },
};

export async function runGenerate(argv: string[], ctx: CommandContext): Promise<number> {
  const { flags, positionals } = parseArgs(argv, GENERATE_FLAGS);
  if (positionals.length > 0) throw invalidArgument('prompt', `unexpected argument '${positionals[0]}' (pass the prompt with --prompt)`);
  const prompt = flags.prompt as string | undefined;
  if (prompt === undefined) throw invalidArgument('--prompt', 'is required');
  const sampling: SamplingParams = {
    ...DEFAULT_SAMPLING,
    ...(flags['max-tokens'] !== undefined ? { maxTokens: flags['max-tokens'] as number } : {}),
    ...(flags.temperature !== undefined ? { temperature: flags.temperature as number } : {}),
    ...(flags['top-p'] !== undefined ? { topP: flags['top-p'] as number } : {}),
    ...(flags['top-k'] !== undefined ? { topK: flags['top-k'] as number } : {}),
    ...(flags['repetition-penalty'] !== undefined ? { repetitionPenalty: flags['repetition-penalty'] as number } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed as number } : {}),
    ...(flags['top-logprobs'] !== undefined ? { topLogprobs: flags['top-logprobs'] as number } : {}),
    ...(flags.stop !== undefined ? { stop: flags.stop as string[] } : {}),
    ...(flags['min-p'] !== undefined ? { minP: flags['min-p'] as number } : {}),
    ...(flags['typical-p'] !== undefined ? { typicalP: flags['typical-p'] as number } : {}),
    ...(flags['presence-penalty'] !== undefined ? { presencePenalty: flags['presence-penalty'] as number } : {}),
    ...(flags['frequency-penalty'] !== undefined ? { frequencyPenalty: flags['frequency-penalty'] as number } : {}),
    ...(flags['logit-bias'] !== undefined ? { logitBias: logitBiasFlag(flags['logit-bias'] as string[]) } : {}),
    ...(flags['ignore-eos'] === true ? { ignoreEos: true } : {}),
    ...(await responseFormatFlags(flags)),
  };
  const lookup = flags.lookup !== undefined ? { promptLookup: flags.lookup as number } : {};
  const request: EngineRequest = flags.chat
    ? { messages: [{ role: 'user', content: prompt }], sampling, ...lookup }
    : { prompt, sampling, ...lookup };
  const json = flags.json === true;

  const engine = await loadEngine(flags, { verbose: ctx.verbose });
  if (flags.model === undefined && process.stderr.isTTY) {
    process.stderr.write('note: using the built-in default model (3.4 M parameters trained on the Brown corpus and the King James Bible: English-like text, not answers); pass --model FILE for a real one\n');
  }
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  // A reader that goes away (`trine generate ... | head`) ends the generation quietly.
  let readerGone = false;
  const onStdoutError = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') throw e;
    readerGone = true;
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  process.stdout.on('error', onStdoutError);
  try {
    let text = '';
    const tokenIds: number[] = [];
    const topLogprobs: { token_id: number; logprob: number }[][] = [];
    for await (const ev of engine.generate(request, abort.signal)) {
      if (ev.type === 'token') {
        text += ev.text;
        tokenIds.push(ev.tokenId);
        if (ev.topLogprobs) topLogprobs.push(ev.topLogprobs.map((t) => ({ token_id: t.tokenId, logprob: t.logprob })));
        if (!json && ev.text) process.stdout.write(ev.text);
        continue;
      }
      text += ev.text;
      if (json) {
        const out = {
          text,
          token_ids: tokenIds,
          finish_reason: ev.finishReason,
          usage: { input_tokens: ev.usage.inputTokens, output_tokens: ev.usage.outputTokens },
          timings: {
            prefill_ms: ev.timings.prefillMs,
            time_to_first_token_ms: ev.timings.timeToFirstTokenMs,
            decode_ms: ev.timings.decodeMs,
            per_token_ms: ev.timings.perTokenMs,
          },
          ...(sampling.topLogprobs > 0 ? { top_logprobs: topLogprobs } : {}),
          model: engine.modelName,
          backend: engine.backendInfo.name,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        if (ev.text) process.stdout.write(ev.text);
        if (process.stdout.isTTY) process.stdout.write('\n');
      }
      if (readerGone) return 0;
      return ev.finishReason === 'cancelled' ? 130 : 0;
    }
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.stdout.off('error', onStdoutError);
    await engine.close();
  }
}

/** --json-schema / --grammar / --regex / --json-object: at most one, files read here (the engine parses them). */
async function responseFormatFlags(flags: Record<string, unknown>): Promise<{ responseFormat?: ResponseFormat }> {
  const given = ['json-schema', 'grammar', 'regex', 'json-object'].filter((f) => flags[f] !== undefined && flags[f] !== false);
  if (given.length > 1) throw invalidArgument(`--${given[1]}`, `cannot be combined with --${given[0]}`);
  const read = async (flag: string): Promise<string> => {
    try {
      return await readFile(flags[flag] as string, 'utf8');
    } catch (e) {
      throw new TrineError('NOT_FOUND', `--${flag}: cannot read ${String(flags[flag])}: ${(e as Error).message}`, { field: `--${flag}`, cause: e });
    }
  };
  if (flags['json-schema'] !== undefined) {
    const text = await read('json-schema');
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch (e) {
      throw invalidArgument('--json-schema', `${String(flags['json-schema'])} is not JSON: ${(e as Error).message}`);
    }
    return { responseFormat: { type: 'json_schema', schema } };
  }
  if (flags.grammar !== undefined) return { responseFormat: { type: 'grammar', grammar: await read('grammar') } };
  if (flags.regex !== undefined) return { responseFormat: { type: 'regex', pattern: flags.regex as string } };
  if (flags['json-object'] === true) return { responseFormat: { type: 'json_object' } };
  return {};
}

/** --logit-bias ID=BIAS, repeated; the engine checks ids against the vocabulary and the bias range. */
function logitBiasFlag(values: readonly string[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of values) {
    const m = /^(\d+)=(-?\d+(?:\.\d+)?)$/.exec(v);
    if (!m) throw invalidArgument('--logit-bias', `'${v}' is not ID=BIAS (e.g. 128009=-100)`);
    out[Number(m[1])] = Number(m[2]);
  }
  return out;
}
