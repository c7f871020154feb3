import { invalidArgument } from '../errors/index.js';
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
