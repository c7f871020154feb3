export { keys, EVENT_TTL_MS, type InferenceJob, type StreamEvent, type WireError, type StopReason, type RunOutcome } from './protocol.js';
export { toWireError, fromWireError } from './wire-error.js';
export type { ModelHost, QueueHost } from './model-host.js';
export {
  routing,
  routeByPrefix,
  publishReport,
  prefixRoutingEnabled,
  checkWorkerId,
  REPORT_TTL_MS,
  REPORT_EVERY_MS,
  FORGET_AFTER_MS,
} from './routing.js';
export type { EngineThreadOptions, HeldPrefixes, ServedModelInfo, BackendTrial, ToThread, FromThread, StreamItem } from './engine-messages.js';
export { EngineHost } from './engine-host.js';
export { runJob, type EventSink, type RunContext, type JobModel } from './runner.js';
export { RedisEventSink, claimAttempt } from './redis-sink.js';
export { engineEnv, envInt, type EngineEnv } from './env.js';
