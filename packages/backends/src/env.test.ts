import { TrineError } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { backendSettings, parseThreads } from './env.js';

const field = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (TrineError.is(e, 'INVALID_ARGUMENT')) return e.field;
    throw e;
  }
  return undefined;
};

describe('backendSettings', () => {
  it('reads TRINE_BACKEND and TRINE_THREADS; an empty variable is unset', () => {
    expect(backendSettings({}, { TRINE_BACKEND: 'cpu', TRINE_THREADS: '3' })).toEqual({ backend: 'cpu', forcedBy: 'TRINE_BACKEND', threads: 3 });
    expect(backendSettings({}, { TRINE_BACKEND: '', TRINE_THREADS: '' })).toEqual({});
  });

  it('flag values win over the environment and are named as flags', () => {
    expect(backendSettings({ backend: 'wasm', threads: 2 }, { TRINE_BACKEND: 'cpu', TRINE_THREADS: '3' })).toEqual({
      backend: 'wasm',
      forcedBy: '--backend',
      threads: 2,
    });
  });

  it('a bad value is INVALID_ARGUMENT naming the variable or flag it came from', () => {
    expect(field(() => backendSettings({}, { TRINE_BACKEND: 'tpu' }))).toBe('TRINE_BACKEND');
    expect(() => backendSettings({}, { TRINE_BACKEND: 'tpu' })).toThrow(/unknown backend 'tpu' \(known: reference, cpu, wasm, webgpu\)/);
    expect(field(() => backendSettings({ backend: 'nosuch' }, {}))).toBe('--backend');
    for (const bad of ['many', '0', '-2', '1.5', '1025', ' ']) expect(field(() => backendSettings({}, { TRINE_THREADS: bad })), bad).toBe('TRINE_THREADS');
    expect(field(() => backendSettings({ threads: 0 }, {}))).toBe('--threads');
    expect(parseThreads('1024', 'x')).toBe(1024);
  });

  it('reads the LM head format from --lm-head, else TRINE_LM_HEAD, and names the source of a bad one', () => {
    expect(backendSettings({}, { TRINE_LM_HEAD: 'q8' })).toEqual({ lmHead: 'q8' });
    expect(backendSettings({ lmHead: 'f16' }, { TRINE_LM_HEAD: 'q8' })).toEqual({ lmHead: 'f16' });
    expect(backendSettings({}, { TRINE_LM_HEAD: '' })).toEqual({});
    expect(field(() => backendSettings({}, { TRINE_LM_HEAD: 'q4' }))).toBe('TRINE_LM_HEAD');
    expect(field(() => backendSettings({ lmHead: 'Q8' }, {}))).toBe('--lm-head');
  });
});
