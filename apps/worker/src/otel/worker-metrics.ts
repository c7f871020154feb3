/** Worker metrics over what WorkerService and EngineHost already count (no second count). */
import { metrics } from '@opentelemetry/api';
import { METRIC, observeBackend, observeCounts, observeEngine, type EngineCounters } from '@trine/telemetry';
import type { WorkerService } from '../worker-service.js';

/** `engine`: reads the engine's prefix-cache and prompt-lookup counters (EngineHost.engineStats). */
export function instrumentWorker(service: WorkerService, engine?: () => Promise<EngineCounters>): void {
  const meter = metrics.getMeter('@trine/worker');
  const OUTCOMES = { started: 'started', done: 'done', failed: 'failed', cancelled: 'cancelled', expired: 'expired', handedBack: 'handed_back' } as const;
  observeCounts(meter, METRIC.workerJobs, 'Jobs by outcome (started counts every attempt)', 'outcome', () => {
    const m = service.metrics();
    const out: Record<string, number> = {};
    for (const [k, label] of Object.entries(OUTCOMES)) out[label] = m[k as keyof typeof OUTCOMES];
    return out;
  });
  meter.createObservableGauge(METRIC.workerActive, { unit: '{job}', description: 'Jobs running on this worker' }).addCallback((r) => r.observe(service.activeJobs));
  if (engine) observeEngine(meter, engine);
  observeBackend(meter, () => {
    const m = service.metrics();
    return { backend: m.backend, variant: m.variant };
  });
}
