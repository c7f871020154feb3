/**
 * Tokenizers as llama.cpp runs them, from a TokenizerSpec (GGUF `tokenizer.*` keys):
 * - `gpt2`: byte-level BPE (bpe.ts) after the LLaMA-3 pre-tokenizer (pretokenize.ts), GPT-2 byte table (byte-level.ts);
 * - `llama`: SentencePiece-style merges by score with `<0xXX>` byte fallback (spm.ts);
 * - vocabulary checks and special tokens (vocab.ts, special.ts), encode/decode/streaming (tokenizer.ts);
 * - chat templates through @huggingface/jinja (chat.ts); the embedded default tokenizer (default.ts).
 */
export * from './spec.js';
export * from './tokenizer.js';
export { TokenType } from './vocab.js';
export * from './chat.js';
export { BYTE_TO_CHAR, toByteLevel, fromByteLevel } from './byte-level.js';
export * from './default.js';
export * from './from-gguf.js';
export * from './to-gguf.js';
