/**
 * GenAI semantic-convention attributes of one generation, for the server span of either front: the gRPC handlers'
 * (handlers.ts) and the HTTP front's. Both fronts read the same GenerateRequest, so both spans carry the same names.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import type { GenerateRequest } from '@trine/proto';
import { GEN_AI, genAiRequestAttributes, genAiResponseAttributes } from '@trine/telemetry';
import type { FinalResult, GenerateSink } from '../pipeline/types.js';

/** The request's attributes: operation (chat when it has messages), model ('default' when none is named), sampling. */
export function requestAttributes(r: Partial<GenerateRequest> | undefined): Attributes {
  return genAiRequestAttributes({
    operation: r?.messages && r.messages.length > 0 ? 'chat' : 'text_completion',
    model: r?.model || 'default',
    ...(r?.maxTokens !== undefined ? { maxTokens: r.maxTokens } : {}),
    ...(r?.temperature !== undefined ? { temperature: r.temperature } : {}),
    ...(r?.topP !== undefined ? { topP: r.topP } : {}),
    ...(r?.topK !== undefined ? { topK: r.topK } : {}),
    ...(r?.seed !== undefined ? { seed: r.seed } : {}),
  });
}

export interface Outcome {
  readonly id?: string;
  readonly model?: string;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** Semconv spelling: stop, length, cancelled (one per choice). */
  readonly finishReasons?: readonly string[];
  readonly cached: boolean;
}

/** The answer's attributes; the served model also becomes the request model when the client named none. */
export function responseAttributes(request: Partial<GenerateRequest> | undefined, o: Outcome): Attributes {
  return {
    ...genAiResponseAttributes(o),
    ...(o.model && !request?.model ? { [GEN_AI.requestModel]: o.model } : {}),
    'trine.cached': o.cached,
  };
}

/**
 * The sinks of one request's choices, passing everything through; once every choice is done the span gets the
 * answer's attributes: finish reasons per choice, output tokens summed, the prompt counted once (as `usage` is).
 */
export function recordAnswer(span: Span | undefined, request: Partial<GenerateRequest>, sinks: readonly GenerateSink[]): GenerateSink[] {
  if (!span) return [...sinks];
  const results: FinalResult[] = new Array<FinalResult>(sinks.length);
  let finished = 0;
  return sinks.map((sink, i) => ({
    tokens: (ts) => sink.tokens(ts),
    restart: () => sink.restart(),
    done: (r) => {
      results[i] = r;
      if (++finished === sinks.length) {
        span.setAttributes(
          responseAttributes(request, {
            id: results[0]!.id,
            model: r.model,
            inputTokens: results[0]!.usage.inputTokens,
            outputTokens: results.reduce((sum, x) => sum + x.usage.outputTokens, 0),
            finishReasons: results.map((x) => x.finish),
            cached: results.every((x) => x.cached),
          }),
        );
      }
      return sink.done(r);
    },
  }));
}
