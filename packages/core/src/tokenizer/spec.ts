/**
 * Everything a tokenizer needs, as stored in a GGUF's `tokenizer.*` keys (or built from tokenizer.json).
 */
export interface TokenizerSpec {
  /** `gpt2`: byte-level BPE with merges (LLaMA-3); `llama`: SentencePiece-style with scores. */
  readonly model: 'gpt2' | 'llama';
  /** `tokenizer.ggml.pre` (e.g. `llama-bpe`), when present. */
  readonly pre?: string;
  readonly tokens: readonly string[];
  /** 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte (GGUF token types). */
  readonly tokenTypes?: Int32Array;
  readonly scores?: Float32Array;
  readonly merges?: readonly string[];
  readonly bosId?: number;
  readonly eosId?: number;
  readonly eotId?: number;
  readonly unkId?: number;
  readonly padId?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** `tokenizer.ggml.add_space_prefix` (llama model only): prefix a space to text at the start and after special tokens. Default true. */
  readonly addSpacePrefix?: boolean;
  /** Further end-of-generation tokens beyond EOS and EOT (e.g. `tokenizer.ggml.eom_token_id`). */
  readonly eogIds?: readonly number[];
  /** Jinja chat template (`tokenizer.chat_template`). */
  readonly chatTemplate?: string;
}
