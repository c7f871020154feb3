/**
 * Optional grpc.health.v1 endpoint for a worker process (TRINE_WORKER_HEALTH_LISTEN), for orchestrator probes:
 * NOT_SERVING until the model is loaded, warmed up and the queue consumer runs; NOT_SERVING again on shutdown.
 * The chosen backend is published as the `trine.backend.<name>` service name (SERVING), so a probe can see it.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

export class WorkerHealth {
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly server = new Server();
  port = 0;

  constructor() {
    this.health.addToServer(this.server);
  }

  async listen(address: string): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    return this.port;
  }

  serving(backend: string): void {
    this.health.setStatus('', 'SERVING');
    this.health.setStatus(`trine.backend.${backend}`, 'SERVING');
  }

  notServing(): void {
    this.health.setStatus('', 'NOT_SERVING');
  }

  close(): void {
    this.server.forceShutdown();
  }
}
