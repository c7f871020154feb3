import { describe, expect, it } from 'vitest';
import { parseHfRef } from '../src/index.js';

describe('parseHfRef', () => {
  it('reads repo, revision and file', () => {
    expect(parseHfRef('hf:org/name')).toEqual({ repo: 'org/name', revision: undefined, file: undefined });
    expect(parseHfRef('hf:org/name@v1.0')).toEqual({ repo: 'org/name', revision: 'v1.0', file: undefined });
    expect(parseHfRef('hf:org/name@main/sub/m.gguf')).toEqual({ repo: 'org/name', revision: 'main', file: 'sub/m.gguf' });
    expect(parseHfRef('org/name/m.gguf')).toEqual({ repo: 'org/name', revision: undefined, file: 'm.gguf' });
  });

  it('refuses what is not a repo, with the field named', () => {
    for (const bad of ['hf:', 'hf:name', 'hf:org/', 'hf:org/name@', 'hf:../x', 'hf:org/name/../etc', 'hf:org/na me', 'hf:org/name@..', 'hf:org/name@.']) {
      expect(() => parseHfRef(bad, '--model'), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: '--model' }));
    }
  });
});
