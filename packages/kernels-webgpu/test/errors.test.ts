import { TrineError } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { preprocess } from '../src/preprocess.js';
import { useSwiftShader } from './swiftshader.js';

useSwiftShader();

describe('webgpu errors', () => {
  it('a tensor above the device buffer limit is BUDGET_EXCEEDED, naming it', async () => {
    const be = await createWebGpuBackend();
    try {
      const max = Number(be.info.details?.maxBufferSize);
      const err = (() => {
        try {
          be.alloc('f32', [Math.ceil(max / 4 / 1024) + 1, 1024]);
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(TrineError.is(err, 'BUDGET_EXCEEDED')).toBe(true);
      expect((err as TrineError).field).toMatch(/tensor/);
      // The backend still works afterwards.
      const t = be.upload({ dtype: 'f32', shape: [1, 3], data: Float32Array.of(1, 2, 3) });
      be.add(t, t, t, 1);
      expect(Array.from((await be.read(t)).data)).toEqual([2, 4, 6]);
    } finally {
      be.destroy();
    }
  });

  it('a lost device turns every later call into DEVICE_LOST', async () => {
    const be = await createWebGpuBackend();
    const t = be.upload({ dtype: 'f32', shape: [1, 2], data: Float32Array.of(1, 2) });
    const device = (be as unknown as { device: GPUDevice }).device;
    device.destroy(); // what a driver reset or a lost GPU process looks like to the backend
    await device.lost;
    expect(() => be.add(t, t, t, 1)).toThrow(expect.objectContaining({ code: 'DEVICE_LOST' }));
    await expect(be.read(t)).rejects.toMatchObject({ code: 'DEVICE_LOST' });
    be.destroy();
  });

  it('round-trips padded layouts (i8 rows padded to 16, f16 rows to 2)', async () => {
    const be = await createWebGpuBackend();
    try {
      const i8 = Int8Array.from({ length: 3 * 5 }, (_, i) => i - 7);
      const f16 = Uint16Array.from({ length: 2 * 3 }, (_, i) => 0x3c00 + i);
      expect(Array.from((await be.read(be.upload({ dtype: 'i8', shape: [3, 5], data: i8 }), 2)).data)).toEqual(Array.from(i8.subarray(0, 10)));
      expect(Array.from((await be.read(be.upload({ dtype: 'f16', shape: [2, 3], data: f16 }))).data)).toEqual(Array.from(f16));
    } finally {
      be.destroy();
    }
  });
});

describe('wgsl preprocess', () => {
  it('keeps the taken branch of #if / #elif / #else and substitutes ${NAME}', () => {
    const src = ['a', '//#if X', 'x', '//#elif Y', 'y', '//#else', 'z', '//#endif', '//#if !X', 'notx', '//#endif', 'n=${N}'].join('\n');
    expect(preprocess(src, { X: true, N: 4 })).toBe('a\nx\nn=4');
    expect(preprocess(src, { Y: true, N: 1 })).toBe('a\ny\nnotx\nn=1');
    expect(preprocess(src, { N: 2 })).toBe('a\nz\nnotx\nn=2');
    expect(() => preprocess('${M}', {})).toThrow(/\$\{M\} is not defined/);
    expect(() => preprocess('//#if X\n', {})).toThrow(/unterminated/);
  });
});
