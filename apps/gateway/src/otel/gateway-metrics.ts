/**
 * Gateway metrics over what GatewayMetrics already counts (requests by outcome, rejections by reason, cache
 * hits/misses, worker restarts), and the queue backlog by BullMQ state.
 */
import { metrics } from '@opentelemetry/api';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { METRIC, QUEUE_STATES, observeBackend, observeCounts, observeEngine, observeQueue, type EngineCounters } from '@trine/telemetry';
import { keys } from '@trine/serving';
import type { GatewayMetrics } from '../metrics.js';

export interface GatewayTelemetry {
  close(): Promise<void>;
}

/**
 * `redis`: the distributed queue's connection (backlog gauge); `backend` and `engine` (its counters): the engine this
 * process runs (standalone).
 */
export function instrumentGateway(m: GatewayMetrics, redis?: Redis, backend?: { backend: string; variant: string }, engine?: () => Promise<EngineCounters>): GatewayTelemetry {
  const meter = metrics.getMeter('@trine/gateway');
  if (backend) observeBackend(meter, () => backend);
  if (engine) observeEngine(meter, engine);
  observeCounts(meter, METRIC.requestsReceived, 'Generate and Tokenize requests received, by front (grpc, http)', 'transport', () => ({ ...m.received }));
  observeCounts(meter, METRIC.requests, 'Requests by outcome', 'status', () => {
    const rejected = Object.values(m.rejections).reduce((a, b) => a + b, 0);
    return { completed: m.completed, cancelled: m.cancelled, deadline_exceeded: m.deadlineExceeded, failed: m.failed, rejected };
  });
  observeCounts(meter, METRIC.rejections, 'Requests refused, by reason', 'reason', () => ({ ...m.rejections }));
  observeCounts(meter, METRIC.cache, 'Response-cache lookups by result', 'result', () => ({ hit: m.cacheHits, miss: m.cacheMisses }));
  observeCounts(meter, METRIC.restarts, 'Streams whose worker restarted, by how the client saw it', 'kind', () => ({
    signalled: m.restartsSignalled,
    continued: m.restartsContinued,
  }));
  if (!redis) return { close: async () => undefined };
  // Reads only; shares the queue's connection.
  const queue = new Queue(keys.queueName, { connection: redis, prefix: keys.prefix });
  queue.on('error', () => undefined); // else BullMQ prints each connection error while Redis is down
  observeQueue(meter, () => queue.getJobCounts(...QUEUE_STATES));
  return { close: () => queue.close() };
}
