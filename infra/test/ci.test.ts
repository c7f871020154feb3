import { describe, expect, it } from 'vitest';
import { loadYamlDocs, read } from './support';

describe('GitHub Actions CI', () => {
  const [wf] = loadYamlDocs(read('.github/workflows/ci.yml')) as [{ jobs: Record<string, { container?: { image: string }; steps: { run?: string; uses?: string }[] }> }];
  const pnpm = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager;

  it('the test job runs .ci/run on Node 20 bookworm, and .ci/run installs the pinned pnpm and the test packages', () => {
    const test = wf.jobs.test!;
    expect(test.container?.image).toBe('node:20-bookworm');
    expect(test.steps.map((s) => s.run)).toContain('.ci/run');
    const ci = read('.ci/run');
    expect(ci).toContain(`npm i -g ${pnpm}`);
    for (const pkg of ['redis-server', 'chromium']) expect(ci).toContain(`need+=(${pkg})`);
    expect(ci).toMatch(/pnpm install --frozen-lockfile && pnpm test/);
  });

  it('typecheck uses the same pnpm, and the overlays render on a runner with kubectl', () => {
    expect(wf.jobs.typecheck!.steps.map((s) => s.run)).toEqual(expect.arrayContaining([`npm i -g ${pnpm}`, 'pnpm install --frozen-lockfile', 'pnpm typecheck']));
    expect(wf.jobs.kustomize!.steps.some((s) => s.run?.includes('kubectl kustomize'))).toBe(true);
  });
});
