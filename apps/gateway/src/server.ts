/**
 * The gRPC server: Inference (+ health, reflection), TLS/mTLS, message size limits, graceful shutdown.
 * Distributed and standalone modes differ only in the JobQueue, rate limiter and cache passed in.
 */
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { GenerateRequest, InferenceService, ListModelsRequest, TokenizeRequest, inferenceProtoFile, protoRoot } from '@trine/proto';
import { ApiKeyAuth } from './auth.js';
import type { ResponseCache } from './cache.js';
import { loadingCatalog, type ModelCatalog } from './catalog.js';
import { hostOf, type GatewayConfig } from './config.js';
import { GatewayMetrics } from './metrics.js';
import { allowAll, policyFromEnv, type ContentPolicy } from './policy.js';
import type { JobQueue } from './queue.js';
import type { RateLimiter } from './rate-limit.js';
import { countInto, observeWith, traceEnqueue } from './pipeline/observe.js';
import { Pipeline } from './pipeline/pipeline.js';
import { InferenceHandlers } from './service.js';
import { HttpFront } from './http/front.js';
import { MAX_CHOICES } from './http/openai.js';
import { trackingDeserializer } from './utf8.js';
import { accessLogFromEnv, instrumentHandlers } from './otel/handlers.js';

export const INFERENCE_SERVICE_NAME = 'trine.v1.Inference';

/** InferenceService with request decoders that remember invalid UTF-8 (see utf8.ts). */
function inferenceDefinition(): ServiceDefinition {
  const def = { ...InferenceService } as unknown as Record<string, { requestDeserialize: unknown }>;
  def.generate = { ...def.generate!, requestDeserialize: trackingDeserializer((r) => GenerateRequest.decode(r)) };
  def.generateStream = { ...def.generateStream!, requestDeserialize: trackingDeserializer((r) => GenerateRequest.decode(r)) };
  def.tokenize = { ...def.tokenize!, requestDeserialize: trackingDeserializer((r) => TokenizeRequest.decode(r)) };
  def.listModels = { ...def.listModels!, requestDeserialize: trackingDeserializer((r) => ListModelsRequest.decode(r)) };
  return def as unknown as ServiceDefinition;
}

export interface GatewayParts {
  readonly queue: JobQueue;
  readonly rateLimiter?: RateLimiter;
  readonly cache?: ResponseCache;
  readonly policy?: ContentPolicy;
  readonly metrics?: GatewayMetrics;
}

export class GatewayServer {
  readonly metrics: GatewayMetrics;
  readonly health = new HealthImplementation({ '': 'NOT_SERVING', [INFERENCE_SERVICE_NAME]: 'NOT_SERVING' });
  private readonly server: Server;
  /** The OpenAI-compatible HTTP front over the same pipeline (absent with TRINE_HTTP_LISTEN=off). */
  readonly http?: HttpFront;
  private readonly inflight = new Set<Promise<unknown>>();
  private catalog: ModelCatalog = loadingCatalog;
  private accepting = false;
  port = 0;
  httpPort = 0;

  constructor(readonly config: GatewayConfig, private readonly parts: GatewayParts) {
    this.metrics = parts.metrics ?? new GatewayMetrics();
    const auth = new ApiKeyAuth(config.apiKeys, hostOf(config.listen));
    // The same keys guard both fronts; an HTTP port off loopback with auth off is refused as gRPC's would be.
    if (config.httpListen) new ApiKeyAuth(config.apiKeys, hostOf(config.httpListen));
    this.server = new Server({
      'grpc.max_receive_message_length': config.maxReceiveMessageBytes,
      'grpc.max_send_message_length': 16 << 20,
      // grpc-js leaves HTTP/2 session memory unbounded unless told (reliability notes §4).
      'grpc-node.max_session_memory': 64,
      'grpc.max_concurrent_streams': 1024,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
    });
    const pipeline = new Pipeline({
      catalog: () => this.catalog,
      queue: parts.queue,
      auth,
      ...(parts.rateLimiter ? { rateLimiter: parts.rateLimiter } : {}),
      ...(parts.cache ? { cache: parts.cache } : {}),
      policy: parts.policy ?? (config.policy ? policyFromEnv(config.policy) : allowAll),
      limits: config.limits,
      maxQueue: config.maxQueue,
      maxRequestMs: config.maxRequestMs,
      inflight: this.inflight,
      accepting: () => this.accepting,
      // The pipeline's one seam: the enqueue span and the gateway's counters.
      observer: observeWith(traceEnqueue, countInto(this.metrics)),
    });
    const handlers = new InferenceHandlers(pipeline);
    if (config.httpListen)
      this.http = new HttpFront(pipeline, {
        listen: config.httpListen,
        ...(config.tls ? { tls: config.tls } : {}),
        maxBodyBytes: config.maxReceiveMessageBytes,
        serving: () => this.accepting,
        defaultModel: () => this.catalog.list()[0]?.name ?? '',
        // Each choice of `n` is a job: more than the queue holds could never all run.
        maxChoices: Math.max(1, Math.min(MAX_CHOICES, config.maxQueue)),
      });
    // Telemetry wraps the handlers (GenAI span attributes, request metrics, access log): see otel/handlers.ts.
    this.server.addService(
      inferenceDefinition(),
      instrumentHandlers(
        {
          generate: handlers.generate,
          generateStream: handlers.generateStream,
          tokenize: handlers.tokenize,
          listModels: handlers.listModels,
        } as UntypedServiceImplementation,
        { log: accessLogFromEnv() },
      ),
    );
    this.health.addToServer(this.server);
    // Reflection lists what its package definition holds: load both protos so it shows Inference and Health.
    const pkg = loadSync([inferenceProtoFile, healthProtoPath], { includeDirs: [protoRoot], keepCase: true });
    new ReflectionService(pkg).addToServer(this.server);
  }

  /** Binds the port (health NOT_SERVING until `ready`). Returns the bound port (TRINE_LISTEN with port 0 picks one). */
  async listen(): Promise<number> {
    const { tls } = this.config;
    const creds = tls
      ? ServerCredentials.createSsl(tls.ca ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.requireClientCert)
      : ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.config.listen, creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
    if (this.http) this.httpPort = await this.http.listen();
    return this.port;
  }

  /** The model is loaded and warmed up: start serving. */
  ready(catalog: ModelCatalog): void {
    this.catalog = catalog;
    this.accepting = true;
    this.health.setStatus('', 'SERVING');
    this.health.setStatus(INFERENCE_SERVICE_NAME, 'SERVING');
  }

  /** Stop accepting, let in-flight calls finish for up to the grace period, then close. */
  async shutdown(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.accepting = false;
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(INFERENCE_SERVICE_NAME, 'NOT_SERVING');
    const drained = Promise.allSettled([...this.inflight]);
    const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) this.server.forceShutdown();
    else await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await this.http?.close();
    await this.parts.queue.close();
  }
}
