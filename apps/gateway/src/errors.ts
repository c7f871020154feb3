/**
 * The edge: TrineError codes → gRPC status. The only place statuses are chosen; anything that is not a TrineError
 * is a bug and reaches the client as INTERNAL without its message.
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { TrineError } from '@trine/core';
import type { RejectReason } from './metrics.js';

const STATUS: Record<string, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  UNSUPPORTED: status.UNIMPLEMENTED,
  BUDGET_EXCEEDED: status.RESOURCE_EXHAUSTED,
  CANCELLED: status.CANCELLED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  OVERLOADED: status.RESOURCE_EXHAUSTED,
  POLICY_DENIED: status.PERMISSION_DENIED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  BACKEND_UNAVAILABLE: status.UNAVAILABLE,
  DEVICE_LOST: status.UNAVAILABLE,
  INVALID_MODEL_FILE: status.INTERNAL,
};

const REJECT: Partial<Record<string, RejectReason>> = {
  INVALID_ARGUMENT: 'validation',
  NOT_FOUND: 'validation',
  BUDGET_EXCEEDED: 'validation',
  UNAUTHENTICATED: 'auth',
  RATE_LIMITED: 'rate_limit',
  OVERLOADED: 'overload',
  POLICY_DENIED: 'policy',
  UNAVAILABLE: 'unavailable',
};

/** The rejection counter a TrineError belongs to, if it is a rejection. */
export function rejectReasonOf(e: unknown): RejectReason | undefined {
  return TrineError.is(e) ? REJECT[e.code] : undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Text that grpc-js can send: it percent-encodes the status message and throws (URIError) on a lone surrogate. */
const wellFormed = (s: string): string => s.replace(LONE_SURROGATE, '\uFFFD');
/** A field path may hold a client's names (a schema's property): metadata values must be printable ASCII, so others
 *  are percent-encoded (decodeURIComponent gives the path back). */
const asciiField = (f: string): string => (/^[ -~]*$/.test(f) ? f : encodeURIComponent(wellFormed(f)));

export function toServiceError(e: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (TrineError.is(e)) {
    if (e.field) metadata.set('trine-field', asciiField(e.field));
    metadata.set('trine-code', e.code);
    return { code: STATUS[e.code] ?? status.UNKNOWN, details: wellFormed(e.message), metadata };
  }
  return { code: status.INTERNAL, details: 'internal error', metadata };
}
