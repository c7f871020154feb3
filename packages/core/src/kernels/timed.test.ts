import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '../reference/backend.js';
import { timedBackend } from './timed.js';

describe('timedBackend', () => {
  it('adds each call to its op, passes results and errors through, and leaves non-functions alone', async () => {
    const inner = createReferenceBackend();
    const perOp = new Map<string, number>();
    const be = timedBackend(inner, perOp);
    const t = be.upload({ dtype: 'f32', shape: [1, 4], data: Float32Array.of(1, 2, 3, 4) });
    const out = be.alloc('f32', [1, 4]);
    be.add(out, t, t, 1);
    expect([...perOp.keys()].sort()).toEqual(['add', 'alloc', 'upload']);
    for (const ms of perOp.values()) expect(ms).toBeGreaterThanOrEqual(0);
    expect(be.info).toBe(inner.info);
    expect(Array.from((await be.read(out, 1)).data as Float32Array)).toEqual([2, 4, 6, 8]);
    expect(perOp.has('read')).toBe(true);

    // A call that throws is timed too, and its error reaches the caller.
    const failing = createReferenceBackend();
    failing.destroy = () => {
      throw new Error('boom');
    };
    expect(() => timedBackend(failing, perOp).destroy()).toThrow('boom');
    expect(perOp.has('destroy')).toBe(true);
  });
});
