export { WorkerService, fetchLoops, type WorkerServiceOptions } from './worker-service.js';
export { PromptWorker } from './prompt-worker.js';
export { WorkerHealth } from './health.js';
