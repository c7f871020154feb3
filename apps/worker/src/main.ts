/** `pnpm start:worker`: the distributed worker (needs REDIS_URL). */
import { EngineHost, engineEnv, envInt, prefixRoutingEnabled } from '@trine/serving';
import { isHfRef, resolveModelPath } from '@trine/hub';
import { activeTelemetry, createLogger } from '@trine/telemetry';
import { WorkerHealth } from './health.js';
import { instrumentWorker } from './otel/worker-metrics.js';
import { WorkerService } from './worker-service.js';

// JSON lines with trace_id/span_id of the active span (docs/observability.md).
const log = createLogger('trine-worker');

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) throw new Error('REDIS_URL is required (e.g. redis://127.0.0.1:6379)');
  const env = engineEnv();
  const healthAddress = process.env.TRINE_WORKER_HEALTH_LISTEN;
  const health = healthAddress ? new WorkerHealth() : undefined;
  if (health && healthAddress) log('health listening', { port: await health.listen(healthAddress) });
  // TRINE_MODEL=hf:ORG/NAME[@REV][/FILE]: pulled into the Hugging Face cache before loading, while health says
  // NOT_SERVING; workers sharing one cache volume download each file once (the others wait on its lock).
  if (env.model !== undefined && isHfRef(env.model)) {
    env.model = await resolveModelPath(env.model, { onEvent: (e) => e.kind !== 'progress' && log('model pull', { ...e }) });
  }
  const host = await EngineHost.start(env);
  // An engine that died cannot come back in this process: exit, so its jobs stall and run on another worker
  // (and the orchestrator restarts this one).
  host.onCrash = (e) => {
    log('engine thread died; exiting', { error: e.message });
    setTimeout(() => process.exit(1), 100);
  };
  log('model loaded', { model: host.info.name, backend: host.info.backend, variant: host.info.backendVariant, why: host.info.selectionReason, selection: host.info.selection });
  const service = await WorkerService.start({
    redisUrl,
    host,
    concurrency: env.maxBatch,
    lockDuration: envInt(process.env, 'TRINE_LOCK_DURATION_MS', 30_000, 100),
    stalledInterval: envInt(process.env, 'TRINE_STALLED_INTERVAL_MS', 30_000, 50),
    maxStalledCount: envInt(process.env, 'TRINE_MAX_STALLED_COUNT', 2, 0, 1000),
    prefixRouting: prefixRoutingEnabled(process.env),
    log,
  });
  instrumentWorker(service, () => host.engineStats());
  health?.serving(host.info.backend);
  const grace = envInt(process.env, 'TRINE_SHUTDOWN_GRACE_MS', 10_000, 0);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal, active: service.activeJobs, graceMs: grace });
    health?.notServing();
    void service
      .close(grace)
      .then(() => host.close())
      .then(() => health?.close())
      .then(() => activeTelemetry()?.shutdown()) // exports what is still buffered
      .then(() => process.exit(0), (e: unknown) => {
        log('shutdown failed', { error: String(e) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

process.on('unhandledRejection', (e) => log('unhandled rejection', { error: String(e) }));
main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
