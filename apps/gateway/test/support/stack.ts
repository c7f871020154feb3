import { startDistributedGateway, type Running } from '../../src/index.js';
import { startMeteredWorker, type MeteredWorker } from './processes.js';
import { startRedis, type RedisServer } from './redis-server.js';

/** The distributed mode on loopback, all real: redis-server, one worker process, the gateway (key `k1`, no response cache). */
export interface DistributedStack {
  readonly redis: RedisServer;
  readonly worker: MeteredWorker;
  readonly gw: Running;
  stop(): Promise<void>;
}

export async function startDistributedStack(workerEnv: Record<string, string> = {}): Promise<DistributedStack> {
  const redis = await startRedis();
  const worker = await startMeteredWorker({ REDIS_URL: redis.url, TRINE_BACKEND: 'reference', ...workerEnv });
  const gw = await startDistributedGateway({ REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_API_KEYS: 'k1', TRINE_CACHE_TTL_MS: '0' });
  return {
    redis,
    worker,
    gw,
    async stop() {
      await gw.stop(1000);
      if (worker.child.exitCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited();
      }
      await redis.stop();
    },
  };
}
