// The worker's telemetry bootstrap: `node --import ./apps/worker/src/otel/register.mjs apps/worker/dist/main.js`.
// ESM modules are only instrumented through import-in-the-middle's loader hook, registered before anything loads.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createAddHookMessageChannel } from 'import-in-the-middle';

// Threads (the engine thread) inherit NODE_OPTIONS' --import: they get otel/thread.ts's span forwarding instead.
if (isMainThread) {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startTelemetry } = await import('@trine/serving/otel');
  // No ioredis spans here: the worker writes one XADD per token, which would double a trace's span count.
  startTelemetry({ service: 'trine-worker', defaultMetricsListen: '127.0.0.1:9465', redisSpans: false });
  await waitForAllMessagesAcknowledged();
}
