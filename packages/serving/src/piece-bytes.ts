/**
 * OpenAI's top_logprobs give each alternative token's text and bytes; the engine reports alternatives by id. The
 * engine thread holds the tokenizer, so it adds each alternative's bytes before the event leaves (the gateway has
 * no tokenizer for the served model's alternatives and renders their text from these bytes).
 */
import type { GenerateEvent, Tokenizer } from '@trine/core';

export function withPieceBytes(event: GenerateEvent, tokenizer: Pick<Tokenizer, 'pieceBytes'>): GenerateEvent {
  if (event.type !== 'token' || !event.topLogprobs?.length) return event;
  return { ...event, topLogprobs: event.topLogprobs.map((t) => ({ ...t, bytes: Array.from(tokenizer.pieceBytes(t.tokenId)) })) };
}

/** The events of a generation with `withPieceBytes` applied (only requests asking for alternatives need it). */
export async function* piecesOf(events: AsyncIterable<GenerateEvent>, tokenizer: Pick<Tokenizer, 'pieceBytes'>): AsyncGenerator<GenerateEvent, void, undefined> {
  for await (const e of events) yield withPieceBytes(e, tokenizer);
}
