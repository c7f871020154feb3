/**
 * Turns a request's event log into what the client sees, so that every token reaches it exactly once and in order,
 * even when a worker dies mid-generation and the job runs again:
 * - only the newest attempt is followed (a zombie run that lost its lock cannot inject tokens);
 * - a new attempt's tokens that the client already has are checked against what it got and skipped (a re-run is
 *   deterministic: same seed, same tokens), and the stream continues where it was;
 * - if the re-run differs (e.g. another backend on the new worker), one `restart` marker goes out and the tokens
 *   start again at index 0, so the client never sees a token twice without being told to discard the first.
 */
import { TrineError, type FinishReason, type Timings, type Usage } from '@trine/core';
import { fromWireError, type StreamEvent } from '@trine/serving';

export type TokenEvent = Extract<StreamEvent, { t: 'tok' }>;

export type RelayOutput =
  | { readonly kind: 'tokens'; readonly tokens: readonly TokenEvent[] }
  | { readonly kind: 'restart' }
  | { readonly kind: 'start'; readonly queueMs: number; readonly attempt: number }
  | { readonly kind: 'done'; readonly finish: FinishReason; readonly usage: Usage; readonly timings: Timings; readonly text: string };

export class StreamRelay {
  private attempt = 0;
  /** Token ids the client has, in order. */
  private sent: number[] = [];
  /** Tokens of the current attempt that matched `sent` and were skipped (re-sent only after a restart marker). */
  private replayed: TokenEvent[] = [];
  private verifying = false;
  restarts = { continued: 0, signalled: 0 };

  get tokensSent(): number {
    return this.sent.length;
  }

  /** Feeds one event; returns what to send (possibly nothing). Throws the request's error for `err` events. */
  push(e: StreamEvent): RelayOutput[] {
    if (e.attempt < this.attempt) return [];
    if (e.t === 'start') {
      if (e.attempt === this.attempt) return [];
      const restarted = this.attempt > 0;
      this.attempt = e.attempt;
      this.replayed = [];
      this.verifying = this.sent.length > 0;
      if (restarted && !this.verifying) this.restarts.continued++;
      return [{ kind: 'start', queueMs: e.queueMs, attempt: e.attempt }];
    }
    if (e.attempt > this.attempt) {
      // Events of an attempt whose start we never saw cannot be checked; treat its start as implied.
      this.push({ t: 'start', attempt: e.attempt, worker: '', queueMs: 0 });
    }
    switch (e.t) {
      case 'tok':
        return this.token(e);
      case 'done': {
        const out: RelayOutput[] = [];
        if (this.verifying) {
          // The re-run reproduced exactly what the client has (the last run died after its last token but before
          // `done`): continue. Ending short of it is a divergence.
          if (this.replayed.length === this.sent.length) {
            this.verifying = false;
            this.restarts.continued++;
          } else out.push(...this.diverge([]));
        }
        out.push({ kind: 'done', finish: e.finish, usage: e.usage, timings: e.timings, text: e.text });
        return out;
      }
      case 'err':
        throw fromWireError(e.error);
    }
    return [];
  }

  private token(e: TokenEvent): RelayOutput[] {
    if (this.verifying) {
      if (e.i < this.sent.length) {
        if (this.sent[e.i] === e.id && e.i === this.replayed.length) {
          this.replayed.push(e);
          return [];
        }
        return this.diverge([e]);
      }
      // Caught up with what the client has: continue live.
      this.verifying = false;
      this.restarts.continued++;
    }
    if (e.i < this.sent.length) return []; // already delivered by this attempt (cannot happen with one ordered log)
    if (e.i > this.sent.length) throw new TrineError('UNAVAILABLE', `token ${this.sent.length} missing from the event log (got ${e.i})`);
    this.sent.push(e.id);
    return [{ kind: 'tokens', tokens: [e] }];
  }

  private diverge(extra: TokenEvent[]): RelayOutput[] {
    this.verifying = false;
    this.restarts.signalled++;
    const resend = [...this.replayed, ...extra];
    this.replayed = [];
    this.sent = resend.map((t) => t.id);
    return resend.length > 0 ? [{ kind: 'restart' }, { kind: 'tokens', tokens: resend }] : [{ kind: 'restart' }];
  }
}
