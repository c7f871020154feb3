/**
 * Every span, attribute and metric name Trine emits, in one place, so docs/observability.md, the Prometheus rules
 * and the code cannot drift apart. Metric names are OTel names; the Prometheus exporter turns dots into
 * underscores and adds unit and `_total` suffixes (docs/observability.md lists the Prometheus spelling).
 */
export const SPAN = {
  /** Gateway: the job is put in the queue (PRODUCER); its context travels in the job as W3C traceparent. */
  enqueue: 'gateway.enqueue',
  /** Worker: one attempt at a job (CONSUMER), child of the enqueue span. */
  workerGenerate: 'worker.generate',
  /** Engine: one prefill chunk of one sequence. */
  prefill: 'trine.engine.prefill',
  /** Engine: one decode step shared by every sequence in the batch (parent: the oldest; links: all). */
  decodeStep: 'trine.engine.decode_step',
} as const;

export const ATTR = {
  requestId: 'trine.request_id',
  attempt: 'trine.attempt',
  /** Sequences one step carries. */
  batchSize: 'trine.batch.size',
  /** Tokens one step carries (a prefill chunk's length; = batch size for decode). */
  stepTokens: 'trine.step.tokens',
  backend: 'trine.backend',
  /** The backend's code path (SIMD variant: avx512, avx2, wasm-simd128, …). */
  backendVariant: 'trine.backend.variant',
  backendThreads: 'trine.backend.threads',
} as const;

/** OpenTelemetry GenAI semantic conventions (gen_ai.*), the subset Trine sets. */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  maxTokens: 'gen_ai.request.max_tokens',
  temperature: 'gen_ai.request.temperature',
  topP: 'gen_ai.request.top_p',
  topK: 'gen_ai.request.top_k',
  seed: 'gen_ai.request.seed',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  finishReasons: 'gen_ai.response.finish_reasons',
  tokenType: 'gen_ai.token.type',
} as const;

export const METRIC = {
  // GenAI semantic-convention histograms (seconds).
  requestDuration: 'gen_ai.server.request.duration',
  timeToFirstToken: 'gen_ai.server.time_to_first_token',
  timePerOutputToken: 'gen_ai.server.time_per_output_token',
  // Gateway.
  rpcRequests: 'trine.gateway.rpc.requests',
  requestsReceived: 'trine.gateway.requests.received',
  requests: 'trine.gateway.requests',
  rejections: 'trine.gateway.rejections',
  cache: 'trine.gateway.cache.lookups',
  restarts: 'trine.gateway.restarts',
  tokens: 'trine.gateway.tokens',
  decodeRate: 'trine.gateway.decode.rate',
  queueJobs: 'trine.queue.jobs',
  // Worker.
  workerJobs: 'trine.worker.jobs',
  workerActive: 'trine.worker.active_jobs',
  backendInfo: 'trine.worker.backend.info',
  batchSize: 'trine.engine.batch.size',
  stepDuration: 'trine.engine.step.duration',
  /** Prompt positions served from the prefix cache instead of prefilled. */
  prefixCacheHitTokens: 'trine.engine.prefix_cache.hit_tokens',
  /** Bytes of KV the free slots hold for reuse. */
  prefixCacheHeldBytes: 'trine.engine.prefix_cache.held_bytes',
  /** Prompt-lookup tokens by `kind`: drafted, accepted. */
  promptLookupTokens: 'trine.engine.prompt_lookup.tokens',
  // Every process.
  cpuTime: 'trine.process.cpu.time',
  memoryRss: 'trine.process.memory.rss',
  memoryHeapUsed: 'trine.process.memory.heap_used',
  memoryHeapTotal: 'trine.process.memory.heap_total',
  eventLoopLag: 'trine.process.event_loop.lag',
} as const;

/** BullMQ job states reported as the queue backlog (`getJobCounts`). */
export const QUEUE_STATES = ['waiting', 'prioritized', 'delayed', 'active'] as const;
