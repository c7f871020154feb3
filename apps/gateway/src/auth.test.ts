import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyAuth, loadApiKeys } from './auth.js';

/** The `authorization` value a front hands over (undefined: none sent). */
const md = (v?: string): string | undefined => v;

describe('ApiKeyAuth', () => {
  it('refuses to run without keys unless on loopback', () => {
    expect(() => new ApiKeyAuth([], '0.0.0.0')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'TRINE_API_KEYS' }));
    expect(new ApiKeyAuth([], '127.0.0.1').enabled).toBe(false);
    expect(new ApiKeyAuth([], '::1').check(md())).toBe('');
  });

  it('accepts only `Bearer <known key>`', () => {
    const auth = new ApiKeyAuth(['alpha', 'beta'], '0.0.0.0');
    expect(auth.check(md('Bearer beta'))).toBe('beta');
    for (const bad of [undefined, 'beta', 'Bearer', 'Bearer gamma', 'Basic beta', 'Bearer beta extra'])
      expect(() => auth.check(md(bad))).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('reads keys from a list or from a file (one per line, # comments)', () => {
    expect(loadApiKeys(' a, b ,,c')).toEqual(['a', 'b', 'c']);
    const dir = mkdtempSync(join(tmpdir(), 'trine-keys-'));
    try {
      const f = join(dir, 'keys');
      writeFileSync(f, '# team keys\nk-one\n\n  k-two  \n');
      expect(loadApiKeys(f)).toEqual(['k-one', 'k-two']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
