import type { StreamDecoder } from '../tokenizer/tokenizer.js';
import type { FinishReason, GenerateEvent, SamplingParams, Timings } from '../generate/types.js';
import { Sampler } from '../generate/sampling.js';
import { StopStringFilter } from '../generate/stop.js';
import { Channel } from './channel.js';
import { stuckError, type TokenConstraint } from '../constrain/index.js';

const now = (): number => performance.now();

/** One request's state inside the engine: tokens, KV slot, sampler, text assembly and its event stream. */
export class Sequence {
  readonly promptTokens: Int32Array;
  readonly sampling: SamplingParams;
  readonly sampler: Sampler;
  readonly events = new Channel<GenerateEvent>();
  private readonly decoder: StreamDecoder;
  private readonly stops: StopStringFilter;
  /** The request's response format, followed token by token (absent: free text). */
  private readonly constraint: TokenConstraint | undefined;

  /** KV slot while active; -1 while waiting or after it left. */
  slot = -1;
  /** Positions filled in the KV cache (the next token goes at this position). */
  cached = 0;
  /** The last sampled token, to be fed at position `cached` by the next decode step. */
  pending = -1;
  generated = 0;
  /** Tokens emitted so far (prompt lookup drafts from the prompt and these). */
  readonly output: number[] = [];
  /** Prompt lookup: tokens a decode step may draft after the pending one (0: off). */
  lookup = 0;
  /** Prompt lookup backoff: drafts rejected outright in a row, and decode steps to wait before drafting again. */
  lookupMisses = 0;
  lookupWait = 0;
  /**
   * Prompt lookup: most tokens the next draft may have — 2 at the start and 1 after a miss (nothing says yet that
   * the text is being copied, and a rejected row costs a third of a step or more), doubling while drafts are accepted.
   */
  lookupLimit = 2;
  cancelled = false;
  finished = false;

  private readonly createdAt = now();
  private prefillStart = 0;
  private prefillMs = 0;
  private firstTokenAt = 0;

  constructor(promptTokens: Int32Array, sampling: SamplingParams, decoder: StreamDecoder, constraint?: TokenConstraint, eogIds: readonly number[] = []) {
    this.promptTokens = promptTokens;
    this.sampling = sampling;
    this.constraint = constraint;
    this.sampler = new Sampler(sampling, promptTokens, constraint ? () => constraint.allowed() : undefined, eogIds);
    this.decoder = decoder;
    this.stops = new StopStringFilter(sampling.stop);
  }

  /** Prefill runs from here to the first sampled token. */
  startPrefill(): void {
    this.prefillStart = now();
  }

  /**
   * Takes a sampled token: emits its text (held back where it could start a stop string) and says how the sequence
   * ends, if it does. End-of-generation tokens end it without an event and are not counted as output.
   */
  accept(token: { tokenId: number; logprob?: number; topLogprobs?: readonly { tokenId: number; logprob: number }[] }, isEog: boolean, context: number): FinishReason | undefined {
    if (this.firstTokenAt === 0) {
      this.firstTokenAt = now();
      this.prefillMs = this.firstTokenAt - this.prefillStart;
    }
    if (isEog) return 'stop';
    this.output.push(token.tokenId);
    this.sampler.accept(token.tokenId);
    // The mask allowed only tokens the grammar takes; a rejection here is a bug, reported on this stream alone.
    if (this.constraint && !this.constraint.accept(token.tokenId)) {
      this.fail(new Error(`token ${token.tokenId} was drawn outside the response format's mask`));
      return 'stop';
    }
    const step = this.stops.push(this.decoder.push(token.tokenId));
    const withLogprobs = this.sampling.topLogprobs > 0;
    this.events.push({
      type: 'token',
      index: this.generated++,
      tokenId: token.tokenId,
      text: step.text,
      ...(withLogprobs && token.logprob !== undefined ? { logprob: token.logprob } : {}),
      ...(withLogprobs && token.topLogprobs ? { topLogprobs: token.topLogprobs } : {}),
    });
    this.pending = token.tokenId;
    if (step.stopped) return 'stop';
    // A complete output ends here even where the vocabulary has no end-of-generation token.
    if (this.constraint?.done) return 'stop';
    if (this.generated >= this.sampling.maxTokens) return 'length';
    if (this.constraint?.stuck) {
      this.fail(stuckError());
      return 'stop';
    }
    if (this.cached >= context) return 'length';
    return undefined;
  }

  /** Emits the final event (flushing held text) and closes the stream. */
  finish(reason: FinishReason): void {
    if (this.finished) return;
    this.finished = true;
    const tail = this.stops.push(this.decoder.flush());
    const text = tail.text + this.stops.flush();
    const end = now();
    const first = this.firstTokenAt || end;
    const decodeMs = this.firstTokenAt ? end - first : 0;
    const timings: Timings = {
      prefillMs: this.prefillMs,
      timeToFirstTokenMs: this.firstTokenAt ? first - this.createdAt : 0,
      decodeMs,
      perTokenMs: this.generated > 1 ? decodeMs / (this.generated - 1) : 0,
    };
    this.events.push({
      type: 'done',
      finishReason: reason,
      usage: { inputTokens: this.promptTokens.length, outputTokens: this.generated },
      timings,
      text,
    });
    this.events.close();
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.events.fail(error);
  }
}
