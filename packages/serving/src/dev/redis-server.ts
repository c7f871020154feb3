/**
 * A throwaway redis-server for tests and the bench: free loopback port, no persistence, killed by `stop()`.
 * Development tooling, not part of serving (`@trine/serving/dev/redis-server`); needs `redis-server` on PATH
 * (Debian: redis-server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.setTimeout(500);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

export async function startRedis(timeoutMs = 10_000): Promise<RedisServer> {
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    let exited = false;
    child.once('exit', () => (exited = true));
    const until = Date.now() + timeoutMs;
    while (!exited && Date.now() < until) {
      if (await ping(port)) {
        return {
          port,
          url: `redis://127.0.0.1:${port}`,
          process: child,
          stop: () =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    // The port may have been taken between probing and binding: try another.
  }
  throw new Error('redis-server did not start (is it installed?)');
}
