import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { ReferenceBackend, createReferenceBackend } from '../reference/backend.js';
import * as referenceKernels from '../reference/kernels/index.js';
import type { RefTensor } from '../reference/storage.js';
import { supportFrom, withKernels, withoutContext } from './assemble.js';
import { KERNEL_NAMES, MAX_KERNEL_ARITY, OPS, PLUMBING_NAMES } from './ops.js';
import { checked } from './validate.js';

describe('withKernels', () => {
  it('gives the reference backend every op of the table as a method, and supports() says ok to each', () => {
    const be = createReferenceBackend();
    for (const name of [...KERNEL_NAMES, ...PLUMBING_NAMES, 'supports']) expect(typeof Reflect.get(be, name), name).toBe('function');
    for (const op of KERNEL_NAMES) expect(be.supports({ op })).toEqual({ ok: true });
    expect(be.supports({ op: 'attention', dtype: 'f16', headDim: 4096 })).toEqual({ ok: true });
  });

  it('forwards every argument: no op takes more than MAX_KERNEL_ARITY', () => {
    for (const op of KERNEL_NAMES) {
      expect(referenceKernels[op].length, op).toBeLessThanOrEqual(MAX_KERNEL_ARITY);
      expect(OPS[op].validate.length, op).toBeLessThanOrEqual(MAX_KERNEL_ARITY);
    }
  });

  it('passes the context first and lets a subclass override a kernel', async () => {
    const seen: unknown[] = [];
    const { add, ...rest } = referenceKernels;
    class Plumbing extends ReferenceBackend {
      readonly tag = 'ctx';
    }
    const Assembled = withKernels(Plumbing, {
      kernels: { ...withoutContext(rest), add: (c: Plumbing, out: RefTensor, a: RefTensor, b: RefTensor, rows: number) => (seen.push(c.tag), add(out, a, b, rows)) },
      context: (be) => be,
    });
    class Doubled extends Assembled {
      override add(out: RefTensor, a: RefTensor, b: RefTensor, rows: number): void {
        super.add(out, a, b, rows);
        super.add(out, out, out, rows);
      }
    }
    const be = new Doubled();
    const x = be.upload({ dtype: 'f32', shape: [1, 2], data: Float32Array.of(1, 2) });
    be.add(x, x, x, 1);
    expect(Array.from((await be.read(x)).data)).toEqual([4, 8]);
    expect(seen).toEqual(['ctx', 'ctx']);
  });

  it('an op left out of the map is unsupported, named by supports() and refused by the checked wrapper', () => {
    const { gatedActivation: _omitted, ...rest } = referenceKernels;
    const Partial = withKernels(ReferenceBackend, { kernels: withoutContext(rest), context: () => undefined });
    const be = new Partial();
    expect(be.supports({ op: 'gatedActivation', act: 'silu' })).toEqual({ ok: false, reason: 'no gatedActivation kernel' });
    const t = be.alloc('f32', [1, 4]);
    expect(() => be.gatedActivation(t, t, t, 'silu', 1)).toThrow(/reference has no gatedActivation kernel/);
    const c = checked(be);
    let err: unknown;
    try {
      c.gatedActivation(t, t, t, 'relu2', 1);
    } catch (e) {
      err = e;
    }
    expect(TrineError.is(err, 'UNSUPPORTED')).toBe(true);
    expect(String(err)).toMatch(/gatedActivation: backend reference does not support op=gatedActivation,act=relu2: no gatedActivation kernel/);
  });
});

describe('supportFrom', () => {
  const supports = supportFrom(referenceKernels, {
    attention: { headDim: { max: 256, reason: 'one head per 256-lane workgroup' }, dtype: { only: ['f32'], reason: 'no f16 cache' } },
    lmHead: { format: { only: ['f16', 'f32'], reason: 'no q8 head' } },
  });
  it('answers from the limits, field by field, and leaves fields the variant does not name alone', () => {
    expect(supports({ op: 'attention', dtype: 'f32', headDim: 256 })).toEqual({ ok: true });
    expect(supports({ op: 'attention', dtype: 'f32', headDim: 320 })).toEqual({ ok: false, reason: 'headDim 320: one head per 256-lane workgroup' });
    expect(supports({ op: 'attention', dtype: 'f16' })).toEqual({ ok: false, reason: 'dtype f16: no f16 cache' });
    expect(supports({ op: 'attention' })).toEqual({ ok: true });
    expect(supports({ op: 'kvStore', dtype: 'f16', headDim: 320 })).toEqual({ ok: true });
    expect(supports({ op: 'lmHead', format: 'q8' })).toEqual({ ok: false, reason: 'format q8: no q8 head' });
  });
});
