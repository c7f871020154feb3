/** What a child process is asked to measure, and what it answers. One job per child, so peak RSS is per run. */
import type { BenchResult } from './report/schema.js';

export interface ModelJob {
  readonly kind: 'model';
  readonly backend: string;
  readonly threads: number;
  readonly shape: string;
  readonly modelPath: string;
  readonly lmHead: 'f16' | 'q8';
  /** Tokens decoded per measurement (batch 1). */
  readonly decodeTokens: number;
  /** Prompt length of the prefill measurement (also its time to first token). */
  readonly prefillTokens: number;
  /** KV depths decoding starts at (a short prompt is prefilled first, untimed). */
  readonly contexts: readonly number[];
  readonly reps: number;
  /** Which measurements to run. */
  readonly suites: readonly ('decode' | 'prefill')[];
  /** q8 only: steps over which logits are compared with the f16 head (0: no drift measurement). */
  readonly driftSteps: number;
}

export interface BatchedJob {
  readonly kind: 'batched';
  readonly backend: string;
  readonly threads: number;
  readonly shape: string;
  readonly modelPath: string;
  readonly batches: readonly number[];
  readonly steps: number;
  readonly promptTokens: number;
}

export interface KernelShape {
  readonly name: string;
  /** Output rows N and inner dimension K. */
  readonly n: number;
  readonly k: number;
  readonly kind: 'ternary' | 'lm_head';
}

export interface KernelJob {
  readonly kind: 'kernel';
  readonly backend: string;
  readonly threads: number;
  readonly shapes: readonly KernelShape[];
  readonly lmHeadFormats: readonly ('f16' | 'q8')[];
  /** Rows of the prefill-shaped GEMM (0: skip). */
  readonly gemmRows: number;
  readonly minSeconds: number;
  /** Read bandwidth at this thread count (GB/s), for the roofline percentage. */
  readonly bandwidthGBs?: number;
  readonly bandwidthSource?: string;
}

export interface BandwidthJob {
  readonly kind: 'bandwidth';
  readonly threads: number;
  readonly megabytes: number;
  readonly reps: number;
}

export interface ServingJob {
  readonly kind: 'serving';
  readonly backend: string;
  readonly threads: number;
  readonly shape: string;
  readonly modelPath: string;
  readonly concurrency: readonly number[];
  /** Timed requests per concurrency level: `concurrency` clients each send ⌈this / concurrency⌉ one after another,
   *  so every level's p99 rests on the same number of samples (one request per client made p99 the max). A level
   *  past its time budget stops at 32 (the serving suite's `level`). */
  readonly requestsPerLevel: number;
  readonly maxTokens: number;
  readonly context: number;
}

/** Prefix cache and prompt lookup through the engine (suites/reuse.ts). */
export interface ReuseJob {
  readonly kind: 'reuse';
  readonly backend: string;
  readonly threads: number;
  readonly shape: string;
  readonly modelPath: string;
  readonly systemTokens: number;
  readonly replyTokens: number;
  /** Tokens decoded per prompt-lookup run, and the draft length K. */
  readonly decodeTokens: number;
  readonly lookupK: number;
  /** A prompt whose answer restates earlier text (issue 21: code editing, summarising), and what it is, for the notes. */
  readonly lookupPrompt: string;
  readonly lookupPromptWhat: string;
  readonly reps: number;
}

/** Constrained decoding: the token mask's cost per token at a 128k vocabulary (suites/constrain.ts). */
export interface ConstrainJob {
  readonly kind: 'constrain';
  /** `llama3-shaped` (drawn, model/vocab.ts) or the path of a tiktoken file (LLaMA 3's tokenizer.model). */
  readonly vocab: string;
  readonly quick: boolean;
}

export type Job = ModelJob | BatchedJob | KernelJob | BandwidthJob | ServingJob | ReuseJob | ConstrainJob;

export interface Skipped {
  readonly what: string;
  readonly reason: string;
}

export interface JobAnswer {
  readonly results: BenchResult[];
  readonly skipped: Skipped[];
  /** Extra facts a job found (backend variant, bandwidth). */
  readonly facts?: Record<string, string | number>;
}

export const ANSWER_MARK = '@@trine-bench-answer ';
