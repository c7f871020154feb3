import { TrineError } from '@trine/core';
import type { WireError } from './protocol.js';

/** A TrineError survives structured clone and JSON only as plain data: this is that data. */
export function toWireError(e: unknown): WireError {
  if (TrineError.is(e)) return { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** Back to a TrineError (codes Trine does not know become INTERNAL, an unexpected failure). */
export function fromWireError(w: WireError): Error {
  if (w.code === 'INTERNAL') return new Error(w.message);
  return new TrineError(w.code as TrineError['code'], w.message, w.field ? { field: w.field } : {});
}
