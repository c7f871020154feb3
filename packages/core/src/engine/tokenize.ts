import { invalidArgument } from '../errors/index.js';
import type { ChatMessage } from '../generate/types.js';
import { encodeChat } from '../tokenizer/chat.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/**
 * What `TextGenerator.tokenize` returns: the ids of `text` (BOS where the model adds it), or with `chat` the ids of
 * `text` rendered as one user turn by the model's chat template, ending with the assistant's generation prompt.
 * Shared by the engine and `trine tokenize`, which needs no weights.
 */
export function tokenizeText(tokenizer: Tokenizer, arch: string, text: string, options: { chat?: boolean } = {}): number[] {
  if (typeof text !== 'string') throw invalidArgument('text', 'must be a string');
  if (options.chat) return encodeChat(tokenizer, [{ role: 'user', content: text }], { addGenerationPrompt: true, arch });
  return tokenizer.encode(text);
}

/**
 * A request's prompt as the engine feeds it: `messages` rendered by the model's chat template with the assistant's
 * generation prompt, else `prompt` as it is. The engine and the distributed gateway (which needs the same ids to
 * hash a prompt's blocks as the engine's prefix cache does) both call this. Types are checked by the caller.
 */
export function promptTokenIds(tokenizer: Tokenizer, arch: string, input: { readonly prompt?: string; readonly messages?: readonly ChatMessage[] }): number[] {
  if (input.messages !== undefined) return encodeChat(tokenizer, input.messages, { addGenerationPrompt: true, arch });
  return tokenizer.encode(input.prompt ?? '');
}
