/**
 * `trine chat`: an interactive multi-turn REPL (as `ollama run`, `llama-cli -cnv`). Every turn sends the whole
 * history through the model's chat template; the engine's prefix cache keeps the KV of what the last turn left in its
 * slot, so a turn prefills little more than the new message (see docs/decisions/prefix-cache.md for what is reused).
 * Ctrl-C stops the reply (the partial reply stays in the history) and not the program; Ctrl-D or /bye quits.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DEFAULT_SAMPLING, invalidArgument, MAX_PROMPT_LOOKUP, SAMPLING_LIMITS, type ChatMessage, type SamplingParams } from '@trine/core';
import { parseArgs, type FlagSpec } from '@trine/args';
import { BACKEND_FLAG, LM_HEAD_FLAG, loadEngine, MODEL_FLAG, THREADS_FLAG, type CommandContext } from './common.js';

export const CHAT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  model: MODEL_FLAG,
  system: { kind: 'string', value: 'TEXT', help: 'system prompt, kept at the start of the history (also after /reset)' },
  'max-tokens': { kind: 'int', short: 'n', aliases: ['n-predict'], min: 1, help: `tokens per reply at most (default ${DEFAULT_SAMPLING.maxTokens})` },
  temperature: { kind: 'number', aliases: ['temp'], min: 0, max: SAMPLING_LIMITS.maxTemperature, help: 'sampling temperature; 0 = greedy (default 0)' },
  'top-p': { kind: 'number', above: 0, max: 1, help: 'nucleus sampling mass in (0, 1] (default 1)' },
  seed: { kind: 'int', short: 's', help: 'PRNG seed for every reply' },
  lookup: { kind: 'int', min: 0, max: MAX_PROMPT_LOOKUP, value: 'K', help: 'prompt-lookup decoding: draft up to K tokens a step from earlier n-grams of the prompt and output (greedy or seeded sampling: the same tokens as without, fewer steps on text that repeats; default 0 = off, or $TRINE_PROMPT_LOOKUP)' },
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
  'lm-head': LM_HEAD_FLAG,
};

const PROMPT = '>>> ';
const HELP = [
  'Commands:',
  '  /reset       forget the conversation (keeps the system prompt)',
  '  /save FILE   write the conversation to FILE (JSON)',
  '  /load FILE   replace the conversation with the one in FILE',
  '  /bye         quit (as Ctrl-D); Ctrl-C stops a reply',
].join('\n');

/** A saved conversation: the messages in order, the system prompt first when there is one. */
interface SavedChat {
  readonly messages: ChatMessage[];
}

function parseSaved(text: string, file: string): ChatMessage[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalidArgument('/load', `${file} is not JSON`);
  }
  const messages = (data as Partial<SavedChat> | null)?.messages;
  if (!Array.isArray(messages) || !messages.every((m) => typeof m?.role === 'string' && typeof m?.content === 'string'))
    throw invalidArgument('/load', `${file} holds no list of {role, content} messages`);
  return messages.map((m) => ({ role: m.role, content: m.content }));
}

export async function runChat(argv: string[], ctx: CommandContext): Promise<number> {
  const { flags, positionals } = parseArgs(argv, CHAT_FLAGS);
  if (positionals.length > 0) throw invalidArgument('chat', `unexpected argument '${positionals[0]}' (type messages at the prompt)`);
  const sampling: SamplingParams = {
    ...DEFAULT_SAMPLING,
    ...(flags['max-tokens'] !== undefined ? { maxTokens: flags['max-tokens'] as number } : {}),
    ...(flags.temperature !== undefined ? { temperature: flags.temperature as number } : {}),
    ...(flags['top-p'] !== undefined ? { topP: flags['top-p'] as number } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed as number } : {}),
  };
  const system = flags.system as string | undefined;
  const fresh = (): ChatMessage[] => (system !== undefined ? [{ role: 'system', content: system }] : []);
  let history = fresh();

  const engine = await loadEngine(flags, { verbose: ctx.verbose });
  const out = (s: string): boolean => process.stdout.write(s);
  const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true && process.stdout.isTTY === true, output: process.stdout });
  let reply: AbortController | undefined;
  // Ctrl-C: a signal when stdin is a pipe, a key readline reports when it is a terminal. Either stops the reply only.
  const onInterrupt = (): void => {
    if (reply) reply.abort();
    else out(`\n(Ctrl-D or /bye to quit)\n${PROMPT}`);
  };
  process.on('SIGINT', onInterrupt);
  rl.on('SIGINT', onInterrupt);
  if (process.stdin.isTTY) out(`${engine.modelName} on ${engine.backendInfo.name}. /help for commands.\n`);
  try {
    out(PROMPT);
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/bye' || line === '/exit') break;
      if (line === '') {
        out(PROMPT);
        continue;
      }
      if (line.startsWith('/')) {
        out(`${await command(line)}\n${PROMPT}`);
        continue;
      }
      history.push({ role: 'user', content: raw });
      reply = new AbortController();
      let text = '';
      const hitsBefore = engine.stats.prefixHitTokens;
      try {
        const lookup = flags.lookup !== undefined ? { promptLookup: flags.lookup as number } : {};
        for await (const ev of engine.generate({ messages: history, sampling, ...lookup }, reply.signal)) {
          text += ev.text;
          if (ev.text) out(ev.text);
          if (ev.type === 'done' && ctx.verbose)
            process.stderr.write(`trine: prompt ${ev.usage.inputTokens} tokens, ${engine.stats.prefixHitTokens - hitsBefore} from the prefix cache\n`);
        }
      } catch (e) {
        history.pop(); // the turn did not happen
        throw e;
      } finally {
        reply = undefined;
      }
      history.push({ role: 'assistant', content: text });
      out(`\n${PROMPT}`);
    }
    out('\n');
    return 0;
  } finally {
    process.off('SIGINT', onInterrupt);
    rl.close();
    await engine.close();
  }

  /** A slash command's one-line answer; a bad one is answered, not fatal. */
  async function command(line: string): Promise<string> {
    const [name, ...rest] = line.split(/\s+/);
    const file = rest.join(' ');
    switch (name) {
      case '/reset':
        history = fresh();
        return 'Cleared the conversation.';
      case '/save':
        if (!file) return 'Usage: /save FILE';
        await writeFile(file, `${JSON.stringify({ messages: history } satisfies SavedChat, null, 2)}\n`);
        return `Saved ${history.length} messages to ${file}.`;
      case '/load': {
        if (!file) return 'Usage: /load FILE';
        try {
          history = parseSaved(await readFile(file, 'utf8'), file);
        } catch (e) {
          return `Could not load ${file}: ${e instanceof Error ? e.message : String(e)}`;
        }
        return `Loaded ${history.length} messages from ${file}.`;
      }
      case '/help':
        return HELP;
      default:
        return `Unknown command ${name}. ${HELP}`;
    }
  }
}
