/**
 * The generation API every front end uses: the CLI, the worker (behind the queue) and the standalone server.
 * Concurrent `generate` calls on one engine share decode steps (continuous batching); a stream's tokens are the
 * same as it would get alone with the same seed.
 */

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface SamplingParams {
  /** Tokens to generate at most (≥ 1). */
  readonly maxTokens: number;
  /** 0 means greedy. */
  readonly temperature: number;
  /** Nucleus sampling mass in (0, 1]; 1 disables. */
  readonly topP: number;
  /** Keep the K most likely tokens; 0 disables. */
  readonly topK: number;
  /** > 1 penalizes tokens already in the prompt or output (CTRL-style, as llama.cpp); 1 disables. */
  readonly repetitionPenalty: number;
  /** Same seed, same tokens, on every backend. Absent: a random seed. */
  readonly seed?: number;
  /** Generation stops before any of these strings; the string itself is not returned. */
  readonly stop: readonly string[];
  /** Return the K most likely tokens with their log-probabilities for each generated token (0 = none). */
  readonly topLogprobs: number;
  /** Constrains the output to JSON, a JSON Schema, a regular expression or a GBNF grammar (absent: free text). */
  readonly responseFormat?: ResponseFormat;
  /** Keep tokens whose probability is at least min_p × the most likely one's, in [0, 1]; 0 (absent) disables. */
  readonly minP?: number;
  /** Locally typical sampling mass in (0, 1] (Meister et al., as Hugging Face and llama.cpp); 1 (absent) disables. */
  readonly typicalP?: number;
  /** OpenAI's: subtracted once from the logit of every token the output already holds, in [-2, 2]; 0 disables. */
  readonly presencePenalty?: number;
  /** OpenAI's: subtracted per occurrence in the output so far, in [-2, 2]; 0 disables. */
  readonly frequencyPenalty?: number;
  /** Added to the raw logits of these token ids before anything else, each in [-100, 100] (OpenAI's logit_bias). */
  readonly logitBias?: Readonly<Record<number, number>>;
  /** Never end at an end-of-generation token: run to max_tokens (llama.cpp's --ignore-eos, vLLM's ignore_eos). */
  readonly ignoreEos?: boolean;
}

/**
 * Structured output, enforced while decoding (a token that would break the format is never drawn). A schema or
 * grammar feature Trine does not support is INVALID_ARGUMENT naming it.
 */
export type ResponseFormat =
  | { readonly type: 'text' }
  /** Any JSON object. */
  | { readonly type: 'json_object' }
  /** JSON valid under this JSON Schema (the subset of OpenAI's structured outputs and llama.cpp's converter). */
  | { readonly type: 'json_schema'; readonly schema: unknown }
  /** Text the whole of which matches this regular expression. */
  | { readonly type: 'regex'; readonly pattern: string }
  /** Text of a GBNF grammar (llama.cpp's format), from its `root` rule. */
  | { readonly type: 'grammar'; readonly grammar: string };

export const DEFAULT_SAMPLING: SamplingParams = {
  maxTokens: 128,
  temperature: 0,
  topP: 1,
  topK: 0,
  repetitionPenalty: 1,
  stop: [],
  topLogprobs: 0,
};

export type GenerateInput =
  | { readonly prompt: string; readonly messages?: undefined }
  | { readonly messages: readonly ChatMessage[]; readonly prompt?: undefined };

export type GenerateRequest = GenerateInput & { readonly sampling: SamplingParams };

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface TokenLogprob {
  readonly tokenId: number;
  readonly logprob: number;
  /** The token's own bytes, where a server adds them for its clients (OpenAI's top_logprobs carry each one's text). */
  readonly bytes?: readonly number[];
}

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface Timings {
  /** Prompt evaluation, milliseconds. */
  readonly prefillMs: number;
  /** From the call to the first generated token. */
  readonly timeToFirstTokenMs: number;
  /** All decode steps after the first token. */
  readonly decodeMs: number;
  /** Mean milliseconds per generated token after the first. */
  readonly perTokenMs: number;
}

export type GenerateEvent =
  | {
      readonly type: 'token';
      /** 0-based index of this generated token. */
      readonly index: number;
      readonly tokenId: number;
      /** Text that became complete with this token: never splits a UTF-8 character, may be ''. */
      readonly text: string;
      readonly logprob?: number;
      readonly topLogprobs?: readonly TokenLogprob[];
    }
  | {
      readonly type: 'done';
      readonly finishReason: FinishReason;
      readonly usage: Usage;
      readonly timings: Timings;
      /** Text held back at the end (an incomplete stop-string prefix that never completed, a flushed partial char). */
      readonly text: string;
    };

export interface TextGenerator {
  readonly modelName: string;
  /** Token ids for `text` (with BOS where the model adds it); `chat` renders it as one user turn first. */
  tokenize(text: string, options?: { chat?: boolean }): number[];
  /** Streams tokens; the AbortSignal ends it with finishReason 'cancelled' within one decode step. */
  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerateEvent>;
}
