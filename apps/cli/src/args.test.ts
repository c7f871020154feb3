import { describe, expect, it } from 'vitest';
import { TrineError } from '@trine/core';
import { parseArgs, type FlagSpec } from './args.js';

const specs: Record<string, FlagSpec> = {
  n: { kind: 'int', min: 1, help: '' },
  p: { kind: 'number', above: 0, max: 1, help: '' },
  name: { kind: 'string', help: '' },
  mode: { kind: 'string', oneOf: ['a', 'b'], help: '' },
  flag: { kind: 'boolean', help: '' },
  stop: { kind: 'strings', help: '' },
};

function fieldOf(argv: string[]): string | undefined {
  try {
    parseArgs(argv, specs);
  } catch (e) {
    expect(TrineError.is(e, 'INVALID_ARGUMENT')).toBe(true);
    return (e as TrineError).field;
  }
  return undefined;
}

describe('parseArgs', () => {
  it('reads values in both spellings, booleans, repeatable flags, positionals and --', () => {
    const r = parseArgs(['--n', '3', '--p=0.5', 'text', '--flag', '--stop', 'x', '--stop=y', '--', '--n'], specs);
    expect(r.flags).toEqual({ n: 3, p: 0.5, flag: true, stop: ['x', 'y'] });
    expect(r.positionals).toEqual(['text', '--n']);
    expect(parseArgs(['--name', '-1'], specs).flags.name).toBe('-1');
  });

  it('names the flag for every bad value', () => {
    expect(fieldOf(['--n', '0'])).toBe('--n');
    expect(fieldOf(['--n', '1.5'])).toBe('--n');
    expect(fieldOf(['--n', ''])).toBe('--n');
    expect(fieldOf(['--p', '0'])).toBe('--p');
    expect(fieldOf(['--p', '2'])).toBe('--p');
    expect(fieldOf(['--p', 'NaN'])).toBe('--p');
    expect(fieldOf(['--mode', 'c'])).toBe('--mode');
    expect(fieldOf(['--flag=1'])).toBe('--flag');
    expect(fieldOf(['--name'])).toBe('--name');
    expect(fieldOf(['--what'])).toBe('--what');
    expect(fieldOf(['-x'])).toBe('-x');
    expect(fieldOf(['--n', '2'])).toBeUndefined();
  });
});
