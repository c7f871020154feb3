/** GenAI semantic-convention attribute builders (https://opentelemetry.io/docs/specs/semconv/gen-ai/). */
import type { Attributes } from '@opentelemetry/api';
import { GEN_AI } from './names.js';

export type GenAiOperation = 'text_completion' | 'chat';

export interface GenAiRequest {
  readonly operation: GenAiOperation;
  readonly model: string;
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly seed?: number | bigint;
}

export interface GenAiResponse {
  readonly id?: string;
  readonly model?: string;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** Semconv values: stop, length, cancelled (Trine's FinishReason spelling, lower case). */
  readonly finishReasons?: readonly string[];
}

function put(out: Attributes, key: string, v: number | string | bigint | undefined): void {
  if (v === undefined) return;
  // Attribute values cannot be bigint; seeds are < 2^53 in practice and exact as numbers up to that.
  out[key] = typeof v === 'bigint' ? Number(v) : v;
}

export function genAiRequestAttributes(r: GenAiRequest): Attributes {
  const out: Attributes = { [GEN_AI.operationName]: r.operation, [GEN_AI.system]: 'trine', [GEN_AI.requestModel]: r.model };
  put(out, GEN_AI.maxTokens, r.maxTokens);
  put(out, GEN_AI.temperature, r.temperature);
  put(out, GEN_AI.topP, r.topP);
  put(out, GEN_AI.topK, r.topK);
  put(out, GEN_AI.seed, r.seed);
  return out;
}

export function genAiResponseAttributes(r: GenAiResponse): Attributes {
  const out: Attributes = {};
  put(out, GEN_AI.responseId, r.id);
  put(out, GEN_AI.responseModel, r.model);
  put(out, GEN_AI.inputTokens, r.inputTokens);
  put(out, GEN_AI.outputTokens, r.outputTokens);
  if (r.finishReasons) out[GEN_AI.finishReasons] = [...r.finishReasons];
  return out;
}

/** Span name per the GenAI conventions: `{operation} {model}`. */
export function genAiSpanName(r: Pick<GenAiRequest, 'operation' | 'model'>): string {
  return `${r.operation} ${r.model}`;
}
