/**
 * One typed error for everything Trine reports on purpose. `code` says what kind of problem it is; the gateway maps
 * codes to gRPC statuses at the edge (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...). Anything else is a bug.
 */
export type TrineErrorCode =
  | 'INVALID_ARGUMENT' // a caller passed a bad value (field names it)
  | 'INVALID_MODEL_FILE' // a GGUF / safetensors / HF directory is malformed (field + offset name it)
  | 'UNSUPPORTED' // well-formed but not something Trine runs (architecture, tensor type, op on a backend)
  | 'BACKEND_UNAVAILABLE' // no backend could start, or a forced one failed
  | 'BUDGET_EXCEEDED' // the model or request needs more memory than configured
  | 'NOT_FOUND' // a file, model or token that does not exist
  | 'CANCELLED' // an AbortSignal fired
  | 'DEVICE_LOST' // a GPU device was lost mid-run
  // Serving (the gateway maps these to UNAUTHENTICATED, RESOURCE_EXHAUSTED, PERMISSION_DENIED, ...):
  | 'UNAUTHENTICATED' // missing or unknown API key
  | 'RATE_LIMITED' // a key's request rate is over its limit
  | 'OVERLOADED' // the queue is full; retry later
  | 'POLICY_DENIED' // the content policy refused a prompt or response
  | 'DEADLINE_EXCEEDED' // the request's deadline passed before it finished
  | 'UNAVAILABLE' // a dependency (Redis, a worker, the Hugging Face Hub) is not reachable or is shutting down
  // Model downloads (@trine/hub):
  | 'CHECKSUM_MISMATCH' // a downloaded file's SHA-256 is not the one the Hub states (the file was deleted)
  | 'DISK_FULL'; // no space left where a file is being written (ENOSPC)

const MARK = Symbol.for('trine.error');

export interface TrineErrorDetails {
  /** The field, key or tensor the problem is in (e.g. `tensor_infos[3].offset`, `max_tokens`). */
  field?: string;
  /** Byte offset in a model file where the problem was found. */
  offset?: number | bigint;
  cause?: unknown;
}

export class TrineError extends Error {
  readonly code: TrineErrorCode;
  readonly field: string | undefined;
  readonly offset: number | bigint | undefined;
  readonly [MARK] = true;

  constructor(code: TrineErrorCode, message: string, details: TrineErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TrineError';
    this.code = code;
    this.field = details.field;
    this.offset = details.offset;
  }

  /** Works across duplicate copies of this package (a `Symbol.for` marker, not `instanceof`). */
  static is(e: unknown, code?: TrineErrorCode): e is TrineError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARK] === true &&
      (code === undefined || (e as TrineError).code === code);
  }
}

/** A malformed model file: names the field and the byte offset, as the hardening notes require. */
export function invalidModelFile(field: string, offset: number | bigint, problem: string): TrineError {
  return new TrineError('INVALID_MODEL_FILE', `${field} at byte ${offset}: ${problem}`, { field, offset });
}

export function invalidArgument(field: string, problem: string): TrineError {
  return new TrineError('INVALID_ARGUMENT', `${field}: ${problem}`, { field });
}
