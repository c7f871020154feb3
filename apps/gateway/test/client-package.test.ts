/**
 * @trine/client as a user gets it: the tarball `pnpm pack` writes, installed with npm into an empty project outside the
 * workspace, imported from ESM and CommonJS and type-checked, calling a real standalone gateway on loopback.
 *
 * It packs the built dist/ (`pnpm test` builds first; run alone, build first: `pnpm --filter @trine/client build`)
 * without the prepack build, so that no other test's process sees dist/ rewritten under it. No network here: npm
 * installs offline from tarballs of the client's dependencies packed from this workspace's installed copies (with a
 * registry, installing the client's tarball alone is enough).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, spawnTs, type Proc } from './support/processes.js';

const run = promisify(execFile);
const clientDir = join(repoRoot, 'packages/client');
let proc: Proc;
let port: number;
let work: string;
let project: string;
let packed: { name: string; dependencies: Record<string, string>; files: string[] };

/** The directory node's resolution finds for `name` from `from`, symlinks resolved (pnpm's layout). */
function packageDir(name: string, from: string): string {
  for (let d = from; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return realpathSync(p);
    if (dirname(d) === d) throw new Error(`${name} is not installed (from ${from})`);
  }
}

/** Every package `deps` needs at run time, by directory: the closure over `dependencies`. */
function closure(deps: string[], from: string, seen = new Map<string, string>()): Map<string, string> {
  for (const name of deps) {
    const dir = packageDir(name, from);
    if (seen.has(dir)) continue;
    seen.set(dir, name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    closure(Object.keys(pkg.dependencies ?? {}), dir, seen);
  }
  return seen;
}

beforeAll(async () => {
  proc = spawnTs('apps/gateway/src/standalone.ts', { TRINE_LISTEN: '127.0.0.1:0', TRINE_HTTP_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_API_KEYS: '' });
  const serving = proc.waitFor('serving', 120_000);
  serving.catch(() => {});

  if (!existsSync(join(clientDir, 'dist/index.js'))) throw new Error('packages/client/dist is missing: run `pnpm --filter @trine/client build` first');
  work = mkdtempSync(join(tmpdir(), 'trine-client-pack-'));
  await run('pnpm', ['pack', '--pack-destination', work], { cwd: clientDir, env: { ...process.env, npm_config_ignore_scripts: 'true' } });
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  await run('tar', ['-xzf', tarball, '-C', work]);
  packed = JSON.parse(readFileSync(join(work, 'package/package.json'), 'utf8')) as typeof packed;

  const deps = join(work, 'deps');
  mkdirSync(deps);
  const tarballs: string[] = [];
  for (const [dir, name] of closure(Object.keys(packed.dependencies), clientDir)) {
    const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    const file = join(deps, `${name.replace('/', '-')}-${version}.tgz`);
    await run('tar', ['-czf', file, '-C', dir, '--exclude=./node_modules', '--transform', 's,^\\.,package,', '.']);
    tarballs.push(file);
  }
  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-trine-client', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball, ...tarballs], { cwd: project });

  port = (await serving).port as number;
}, 240_000);

afterAll(() => {
  if (proc?.child.exitCode === null) proc.child.kill('SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('@trine/client tarball', () => {
  it('holds dist, the .proto and a README, and depends on no unpublished workspace package', () => {
    const listed = readdirSync(join(work, 'package'), { recursive: true }).map(String).sort();
    expect(listed).toEqual(expect.arrayContaining(['README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'trine/v1/inference.proto']));
    expect(Object.keys(packed.dependencies).sort()).toEqual(['@bufbuild/protobuf', '@grpc/grpc-js']);
    for (const range of Object.values(packed.dependencies)) expect(range).not.toMatch(/^(workspace|file|link):/);
    // Bundled, not imported: the tarball names no @trine/ module anywhere in its code or types.
    for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts']) expect(readFileSync(join(work, 'package', f), 'utf8')).not.toMatch(/from ['"]@trine\/|require\(['"]@trine\//);
  });

  it('installed offline with npm: ESM and CommonJS call the gateway (generate, stream, listModels, errors, deadlines)', async () => {
    const calls = (load: string): string => `
${load}
const trine = new TrineClient({ address: '127.0.0.1:${port}', retry: { maxAttempts: 1 } });
const out = {};
out.models = (await trine.listModels()).map((m) => m.name);
const r = await trine.generate({ prompt: 'hello world', maxTokens: 5, temperature: 0 });
out.unary = r.tokenIds;
out.usage = r.usage;
out.streamed = [];
for await (const m of trine.stream({ prompt: 'hello world', maxTokens: 5, temperature: 0 })) out.streamed.push(...m.tokens.map((t) => t.id));
out.badCode = await trine.generate({ prompt: 'x', maxTokens: 1, temperature: -1 }).then(() => 'resolved', (e) => e.code === status.INVALID_ARGUMENT && e.details);
out.deadlineCode = await trine.generate({ prompt: 'x', maxTokens: 400, ignoreEos: true }, { deadlineMs: 1 }).then(() => 'resolved', (e) => e.code);
out.protoExists = existsSync(join(protoRoot, inferenceProtoFile));
trine.close();
console.log(JSON.stringify(out));
`;
    writeFileSync(join(project, 'esm.mjs'), calls(`import { TrineClient, protoRoot, inferenceProtoFile } from '@trine/client';\nimport { status } from '@grpc/grpc-js';\nimport { existsSync } from 'node:fs';\nimport { join } from 'node:path';`));
    writeFileSync(
      join(project, 'cjs.cjs'),
      `(async () => {${calls(`const { TrineClient, protoRoot, inferenceProtoFile } = require('@trine/client');\nconst { status } = require('@grpc/grpc-js');\nconst { existsSync } = require('node:fs');\nconst { join } = require('node:path');`)}})();`,
    );
    for (const script of ['esm.mjs', 'cjs.cjs']) {
      const { stdout } = await run(process.execPath, [script], { cwd: project });
      const out = JSON.parse(stdout) as { models: string[]; unary: number[]; usage: { outputTokens: number }; streamed: number[]; badCode: string | false; deadlineCode: number | string; protoExists: boolean };
      expect(out.models.length, script).toBe(1);
      expect(out.unary.length, script).toBe(out.usage.outputTokens);
      expect(out.unary.length, script).toBeGreaterThan(0);
      expect(out.streamed, script).toEqual(out.unary);
      expect(out.badCode, script).toMatch(/temperature/);
      expect(out.deadlineCode, script).toBe(4); // DEADLINE_EXCEEDED
      expect(out.protoExists, script).toBe(true);
    }
  });

  it('type-checks a TypeScript user against the installed declarations (module nodenext)', async () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { TrineClient, type GenerateResponse, type GenerateStreamResponse, FinishReason } from '@trine/client';
const trine = new TrineClient({ address: '127.0.0.1:1', apiKey: 'k', deadlineMs: 1000 });
export async function use(): Promise<number> {
  const r: GenerateResponse = await trine.generate({ prompt: 'hi', maxTokens: 4, seed: 1n });
  let n: number = r.usage?.outputTokens ?? 0;
  for await (const c of trine.stream({ messages: [{ role: 'user', content: 'hi' }] }, { signal: AbortSignal.timeout(10) })) {
    const chunk: GenerateStreamResponse = c;
    n += chunk.tokens.length + (chunk.finishReason === FinishReason.FINISH_REASON_STOP ? 1 : 0);
  }
  return n;
}
`,
    );
    // And that a wrong use is refused, so the check above proves the types are read, not any.
    writeFileSync(join(project, 'misuse.ts'), `import { TrineClient } from '@trine/client';\nexport const p = new TrineClient().generate({ prompt: 42 });\n`);
    // skipLibCheck: a dependency's own declarations are not ours to check (long 5.3's umd/index.d.ts imports a file it
    // does not ship); ours are still read: an import they could not resolve would make `prompt` any and misuse.ts pass.
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const flags = ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node'];
    const out = await run(process.execPath, [tsc, ...flags, 'use.ts', 'misuse.ts'], { cwd: project }).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(out.trim().split('\n')).toEqual([expect.stringMatching(/^misuse\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/)]);
  }, 120_000);
});
