import { describe, expect, it } from 'vitest';
import { TrineError } from '@trine/core';
import { engineEnv } from '../src/env.js';

describe('engineEnv', () => {
  it('takes TRINE_LM_HEAD through the one parser of the backend settings', () => {
    expect(engineEnv({ TRINE_LM_HEAD: 'q8' }).lmHead).toBe('q8');
    expect(engineEnv({}).lmHead).toBeUndefined();
    let err: unknown;
    try {
      engineEnv({ TRINE_LM_HEAD: 'int4' });
    } catch (e) {
      err = e;
    }
    expect(TrineError.is(err, 'INVALID_ARGUMENT') && err.field).toBe('TRINE_LM_HEAD');
  });
});
