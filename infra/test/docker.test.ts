import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerHealth } from '@trine/worker';
import { ENV_READ, INFRA, ROOT, defaultPort, healthServices, read } from './support';

interface Instruction { op: string; args: string }
interface Stage { from: string; name?: string; instructions: Instruction[] }

/** Dockerfile → stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`unparsable Dockerfile line: ${line}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

/** `ENV A=1 B=2` → names. */
const envNames = (args: string): string[] => [...args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!);

const APPS = {
  gateway: { port: () => defaultPort('apps/gateway/src/config.ts', /TRINE_LISTEN \|\| '[^']*:(\d+)'/), healthFile: 'apps/gateway/src/server.ts' },
  worker: { port: () => 50052, healthFile: 'apps/worker/src/health.ts' },
} as const;

describe.each(Object.keys(APPS) as (keyof typeof APPS)[])('%s Dockerfile', (app) => {
  const stages = parseDockerfile(read(`infra/docker/${app}.Dockerfile`));
  const final = stages.at(-1)!;
  const all = (op: string): string[] => final.instructions.filter((i) => i.op === op).map((i) => i.args);
  const pnpmVersion = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager.replace('pnpm@', '');

  it('builds on node:20-bookworm with the pinned pnpm and ships on node:20-bookworm-slim', () => {
    expect(stages.map((s) => s.from)).toEqual(['node:20-bookworm', 'node:20-bookworm-slim']);
    const build = stages[0]!.instructions.map((i) => i.args).join('\n');
    expect(build).toContain(`pnpm@${pnpmVersion}`);
    expect(build).toMatch(/build-essential/);
    expect(build).toMatch(/pnpm install --frozen-lockfile/);
    // The runtime tree (prod deps, dist, addon, probe) is assembled by a script the stage runs.
    expect(build).toContain(`infra/docker/assemble.sh ${app} /out`);
    const assemble = read('infra/docker/assemble.sh');
    expect(assemble).toMatch(/pnpm install --frozen-lockfile --offline --prod --ignore-scripts --filter "@trine\/\$app\.\.\."/);
    expect(assemble).toContain('build/Release/*.node');
    expect(all('COPY').every((c) => c.includes(`--from=${stages[0]!.name}`))).toBe(true);
  });

  it('runs as a non-root user', () => {
    const users = all('USER');
    expect(users.length).toBe(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('environment, exposed port and HEALTHCHECK match what the app reads and serves', () => {
    for (const name of all('ENV').flatMap(envNames).filter((n) => n.startsWith('TRINE_') || n.startsWith('OTEL_') || n === 'REDIS_URL'))
      expect(ENV_READ[app], name).toContain(name);
    const port = APPS[app].port();
    const listenVar = app === 'gateway' ? 'TRINE_LISTEN' : 'TRINE_WORKER_HEALTH_LISTEN';
    expect(all('ENV').join(' ')).toContain(`${listenVar}=0.0.0.0:${port}`);
    const metricsPort = defaultPort(`apps/${app}/src/otel/register.mjs`, /defaultMetricsListen: '[^']*:(\d+)'/);
    // The gateway also serves the OpenAI-compatible HTTP front, on its default port.
    const http = app === 'gateway' ? `${defaultPort('apps/gateway/src/config.ts', /: '[^']*:(\d+)' \};/)} ` : '';
    if (http) expect(all('ENV').join(' ')).toContain(`TRINE_HTTP_LISTEN=0.0.0.0:${http.trim()}`);
    expect(all('EXPOSE')).toEqual([`${port} ${http}${metricsPort}`]);
    const [hc] = all('HEALTHCHECK');
    const cmd = JSON.parse(hc!.replace(/^.*?CMD\s+/, '')) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', `/app/apps/${app}/healthcheck.mjs`]);
    expect(cmd[2]).toBe(`127.0.0.1:${port}`);
    expect(healthServices(APPS[app].healthFile)).toContain(cmd[3]);
  });

  it('CMD starts the built entry with the telemetry bootstrap that exists in the repo', () => {
    const cmd = JSON.parse(all('CMD')[0]!) as string[];
    expect(cmd).toEqual(['node', '--import', `./apps/${app}/src/otel/register.mjs`, `apps/${app}/dist/main.js`]);
    expect(existsSync(join(ROOT, `apps/${app}/src/otel/register.mjs`))).toBe(true);
    expect(existsSync(join(ROOT, `apps/${app}/src/main.ts`))).toBe(true);
    expect(existsSync(join(INFRA, `docker/${app}.Dockerfile.dockerignore`))).toBe(true);
  });
});

describe('healthcheck.mjs against a real grpc.health.v1 server (the worker\'s)', () => {
  // The script resolves @grpc/grpc-js beside itself, as in the image (/app/apps/<app>/node_modules).
  const dir = mkdtempSync(join(tmpdir(), 'trine-hc-'));
  mkdirSync(join(dir, 'node_modules/@grpc'), { recursive: true });
  symlinkSync(realpathSync(join(ROOT, 'apps/worker/node_modules/@grpc/grpc-js')), join(dir, 'node_modules/@grpc/grpc-js'));
  copyFileSync(join(INFRA, 'docker/healthcheck.mjs'), join(dir, 'healthcheck.mjs'));
  const health = new WorkerHealth();
  afterAll(() => {
    health.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Asynchronous: the server answers from this process's event loop.
  const probe = (port: number, service: string) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(dir, 'healthcheck.mjs'), `127.0.0.1:${port}`, service], { timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });

  it('exits 1 while NOT_SERVING, 0 once SERVING, 1 for an unknown service or a closed port', async () => {
    const port = await health.listen('127.0.0.1:0');
    expect((await probe(port, '')).status).toBe(1);
    health.serving('cpu');
    const ok = await probe(port, '');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('SERVING');
    expect((await probe(port, 'trine.backend.cpu')).status).toBe(0);
    expect((await probe(port, 'trine.v1.Nope')).status).toBe(1);
    health.notServing();
    expect((await probe(port, '')).status).toBe(1);
    health.close();
    expect((await probe(port, '')).status).toBe(1);
  });
});
