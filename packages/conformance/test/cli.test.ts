import { ReferenceBackend, TrineError, type KernelBackend, type QuantizedActs, type RefTensor, type RefTernary } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { runConformanceCli, type CliIo } from '../src/cli.js';

const NAMES = ['reference', 'cpu', 'wasm', 'webgpu'];

/** `create` stands in for the catalog apps/cli injects. */
function capture(create?: (name: string) => Promise<KernelBackend>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), ...(create ? { backends: { names: NAMES, create } } : {}) };
  return { io, out, err };
}

class BrokenCpu extends ReferenceBackend {
  override readonly info = { name: 'cpu', variant: 'broken-for-test', threads: 1 };
  override ternaryMatmulAcc(out: RefTensor, a: QuantizedActs<RefTensor>, w: RefTernary, rows: number): void {
    super.ternaryMatmulAcc(out, a, w, rows);
    (out.data as Int32Array)[0]! ^= 1;
  }
}

describe('runConformanceCli', () => {
  it('runs the reference, prints the table and exits 0', async () => {
    const { io, out } = capture();
    const code = await runConformanceCli(['--backend', 'reference', '--filter', 'argmax/,add/n1'], io);
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/\| argmax\/n6\.V1000 +\| pass +\|/);
    expect(text).toMatch(/\| add\/n1\.D2560 +\| pass +\|/);
    expect(text).toContain('reference: 4 pass, 0 fail, 0 unsupported');
  });

  it('creates a named backend through the injected catalog and exits 1 when it fails a case', async () => {
    const requested: string[] = [];
    const { io, out, err } = capture(async (name) => {
      requested.push(name);
      return new BrokenCpu();
    });
    const code = await runConformanceCli(['--backend=cpu', '--filter', 'ternaryMatmulAcc/per_token/codes', '--quick'], io);
    expect(requested).toEqual(['cpu']);
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(/\| ternaryMatmulAcc\/per_token\/codes\.tensor\/n1\.K1001\.N33 +\| pass +\| FAIL +\|/);
    expect(err.join('\n')).toMatch(/cpu: FAIL ternaryMatmulAcc\/per_token\/codes\.tensor\/n1\.K1001\.N33: acc: 1 of 33 differ/);
  });

  it('a backend asked for by name that cannot load is an error; one merely tried is reported', async () => {
    const missing = async (name: string): Promise<KernelBackend> => {
      throw new TrineError('BACKEND_UNAVAILABLE', `${name}: @trine/kernels-${name} did not load: Cannot find package`);
    };
    const named = capture(missing);
    expect(await runConformanceCli(['--backend', 'webgpu', '--filter', 'add/n1'], named.io)).toBe(1);
    expect(named.err.join('\n')).toMatch(/backend webgpu is unavailable: webgpu: @trine\/kernels-webgpu did not load: Cannot find package/);

    const tried = capture(missing);
    expect(await runConformanceCli(['--filter', 'add/n1'], tried.io)).toBe(0);
    expect(tried.out.join('\n')).toMatch(/wasm: unavailable on this host/);
    expect(tried.out.join('\n')).toContain('reference: 1 pass, 0 fail, 0 unsupported');
  });

  it('without an injected catalog runs the reference only, and names only it', async () => {
    const { io, err } = capture();
    expect(await runConformanceCli(['--backend', 'cpu'], io)).toBe(2);
    expect(err.join('\n')).toContain("unknown backend 'cpu' (known: reference)");
  });

  it('rejects bad arguments with usage and exit 2', async () => {
    for (const argv of [['--backend', 'tpu'], ['--mode', 'fast'], ['--threads', '0'], ['--nope']]) {
      const { io, err } = capture();
      expect(await runConformanceCli(argv, io), argv.join(' ')).toBe(2);
      expect(err.join('\n')).toContain('usage: trine conformance');
    }
  });

  it('--mode support lists unsupported variants without running kernels; --json prints reports', async () => {
    const { io, out } = capture();
    expect(await runConformanceCli(['--backend', 'reference', '--mode', 'support', '--json', '--filter', 'rope/'], io)).toBe(0);
    const reports = JSON.parse(out.join('\n')) as { mode: string; results: { status: string }[] }[];
    expect(reports[0]!.mode).toBe('support');
    expect(reports[0]!.results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
  });
});
