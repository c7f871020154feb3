// The gateway's telemetry bootstrap: `node --import ./apps/gateway/src/otel/register.mjs apps/gateway/dist/main.js`.
// ESM modules are only instrumented through import-in-the-middle's loader hook, registered before anything loads.
// The SDK setup is the serving processes' (`@trine/serving/otel`, as the worker's); only the service name and metrics port differ.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createAddHookMessageChannel } from 'import-in-the-middle';

// Threads (the engine thread) inherit NODE_OPTIONS' --import: they get otel/thread.ts's span forwarding instead.
if (isMainThread) {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startTelemetry } = await import('@trine/serving/otel');
  startTelemetry({ service: 'trine-gateway', defaultMetricsListen: '127.0.0.1:9464' });
  await waitForAllMessagesAcknowledged();
}
