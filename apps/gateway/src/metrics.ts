/**
 * The gateway's counters, kept in-process. Observability exports them later (Prometheus); tests read them.
 * Labels are fixed sets so the series count is bounded.
 */
import type { Transport } from './pipeline/types.js';

export type RejectReason = 'validation' | 'auth' | 'rate_limit' | 'overload' | 'policy' | 'unavailable';

export class GatewayMetrics {
  requests = 0;
  /** The same requests by the front that received them. */
  readonly received: Record<Transport, number> = { grpc: 0, http: 0 };
  readonly rejections: Record<RejectReason, number> = { validation: 0, auth: 0, rate_limit: 0, overload: 0, policy: 0, unavailable: 0 };
  cacheHits = 0;
  cacheMisses = 0;
  completed = 0;
  cancelled = 0;
  deadlineExceeded = 0;
  failed = 0;
  /** Streams where a worker restart regenerated different tokens and a restart marker was sent. */
  restartsSignalled = 0;
  /** Streams where a worker restart regenerated the same tokens and continued without a marker. */
  restartsContinued = 0;

  reject(reason: RejectReason): void {
    this.rejections[reason]++;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {
      requests: this.requests,
      cache_hits: this.cacheHits,
      cache_misses: this.cacheMisses,
      completed: this.completed,
      cancelled: this.cancelled,
      deadline_exceeded: this.deadlineExceeded,
      failed: this.failed,
      restarts_signalled: this.restartsSignalled,
      restarts_continued: this.restartsContinued,
    };
    for (const [k, v] of Object.entries(this.rejections)) out[`rejections_${k}`] = v;
    for (const [k, v] of Object.entries(this.received)) out[`received_${k}`] = v;
    return out;
  }
}
