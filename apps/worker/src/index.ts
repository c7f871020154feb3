export * from './protocol.js';
export * from './engine-messages.js';
export { EngineHost, type ModelHost } from './engine-host.js';
export { runJob, type EventSink, type RunContext, type RunOutcome, type StopReason } from './runner.js';
export { RedisEventSink } from './redis-sink.js';
export { WorkerService, type WorkerServiceOptions } from './worker-service.js';
export { engineEnv, envInt, type EngineEnv } from './config.js';
export { toWireError, fromWireError } from './wire-error.js';
export { chooseBackend, probeBackends, type Candidate } from './select-backend.js';
