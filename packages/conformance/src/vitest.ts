/**
 * `describeConformance(name, () => backend)`: one vitest `it` per conformance case, for backend packages' tests.
 * A failing case fails its `it` with the reference diff; an unsupported one is skipped with its reason shown (or
 * fails, with `requireSupport`), so the vitest report reads like the conformance table.
 */
import { createReferenceBackend, type KernelBackend } from '@trine/core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeCheck } from './compare.js';
import { runCase, selectCases, type RunOptions } from './runner.js';
import type { CaseOutput, CaseResult } from './types.js';

/**
 * Reference outputs by case name, shared by every describeConformance in a test file (a backend package often runs
 * the kit once per code path): the reference computes each case once. Its outputs depend only on the case.
 */
const expectedCache = new Map<string, CaseOutput[]>();

export interface DescribeOptions extends Pick<RunOptions, 'filter' | 'large' | 'cases'> {
  /** Fail (instead of skip) a case the backend reports unsupported. */
  requireSupport?: boolean;
  /** Leave the backend alive after the suite (default: destroy it). */
  keepBackend?: boolean;
}

/** The message a failing case throws: what differed, by how much, and against which tolerance. */
export function failureMessage(r: CaseResult): string {
  const lines = [`${r.name}: ${r.status}${r.reason ? ` — ${r.reason}` : ''}`];
  for (const o of r.outputs ?? []) lines.push(`  ${o.ok ? 'ok  ' : 'FAIL'} ${o.detail} [${describeCheck(o.check)}]`);
  return lines.join('\n');
}

export function describeConformance(
  name: string,
  createBackend: () => KernelBackend | Promise<KernelBackend>,
  options: DescribeOptions = {},
): void {
  describe(`conformance: ${name}`, () => {
    let backend: KernelBackend | undefined;
    let setupError: unknown;
    const reference = createReferenceBackend();
    beforeAll(async () => {
      try {
        backend = await createBackend();
      } catch (e) {
        setupError = e;
      }
    });
    afterAll(() => {
      if (!options.keepBackend) backend?.destroy();
      reference.destroy();
    });
    for (const c of selectCases(options)) {
      it(c.name, async (ctx) => {
        if (!backend) throw new Error(`backend ${name} could not be created: ${String(setupError)}`);
        const r = await runCase(backend, c, reference, 'test', {}, expectedCache);
        if (r.status === 'unsupported') {
          if (options.requireSupport) throw new Error(`${c.name}: unsupported — ${r.reason}`);
          ctx.skip(`unsupported: ${r.reason}`);
          return;
        }
        if (r.status !== 'pass') throw new Error(failureMessage(r));
      });
    }
  });
}
