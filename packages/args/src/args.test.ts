import { describe, expect, it } from 'vitest';
import { TrineError } from '@trine/core';
import { flagHelp, parseArgs, type FlagSpec } from './index.js';

const specs: Record<string, FlagSpec> = {
  n: { kind: 'int', min: 1, help: '' },
  p: { kind: 'number', above: 0, max: 1, help: '' },
  name: { kind: 'string', help: '' },
  mode: { kind: 'string', oneOf: ['a', 'b'], help: '' },
  flag: { kind: 'boolean', help: '' },
  stop: { kind: 'strings', help: '' },
};

/** The field of the TrineError parsing throws, or undefined when it parses. */
function fieldOf(argv: string[], table: Record<string, FlagSpec> = specs): string | undefined {
  try {
    parseArgs(argv, table);
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

describe('llama.cpp-style spellings, lists, defaults', () => {
  const table: Record<string, FlagSpec> = {
    model: { kind: 'string', short: 'm', value: 'FILE', help: 'model file' },
    'max-tokens': { kind: 'int', short: 'n', aliases: ['n-predict'], min: 1, default: 16, help: 'tokens to generate' },
    temperature: { kind: 'number', aliases: ['temp'], min: 0, help: 'sampling temperature' },
    threads: { kind: 'int', short: 't', list: true, min: 1, max: 256, help: 'thread counts' },
    backend: { kind: 'string', short: 'b', list: true, repeatable: true, oneOf: ['cpu', 'wasm'], ignoreCase: true, noun: 'backend', help: 'backends' },
    threshold: { kind: 'number', min: 0, below: 10, help: 'regression threshold' },
    prompt: { kind: 'string', short: 'p', allowEmpty: true, help: 'prompt' },
  };

  it('reads short flags and long aliases as their flag, and fills defaults', () => {
    const r = parseArgs(['-m', 'a.gguf', '-n', '5', '--temp', '0.5', '-p', '', 'rest'], table);
    expect(r.flags).toEqual({ model: 'a.gguf', 'max-tokens': 5, temperature: 0.5, prompt: '' });
    expect(r.positionals).toEqual(['rest']);
    expect(parseArgs(['--n-predict=7'], table).flags['max-tokens']).toBe(7);
    expect(parseArgs([], table).flags).toEqual({ 'max-tokens': 16 });
  });

  it('splits comma lists (each part checked, duplicates dropped) and joins repeated lists', () => {
    expect(parseArgs(['-t', '1,2,2'], table).flags.threads).toEqual([1, 2]);
    expect(parseArgs(['-b', 'CPU', '--backend', 'wasm,cpu'], table).flags.backend).toEqual(['cpu', 'wasm']);
  });

  it('names the flag by its long name whatever the spelling, with the bound in the message', () => {
    expect(() => parseArgs(['-t', '1,0'], table)).toThrow("--threads: '0' is not an integer in [1, 256]");
    expect(() => parseArgs(['-n', '0'], table)).toThrow("--max-tokens: '0' is not an integer ≥ 1");
    expect(() => parseArgs(['--threshold', '10'], table)).toThrow("--threshold: '10' is not a number in [0, 10)");
    expect(() => parseArgs(['-b', 'tpu'], table)).toThrow("--backend: unknown backend 'tpu' (known: cpu, wasm)");
    expect(() => parseArgs(['-t', ','], table)).toThrow('--threads: expects a comma-separated list');
    expect(() => parseArgs(['-m', ''], table)).toThrow('--model: needs a value');
    expect(() => parseArgs(['-m'], table)).toThrow('--model: needs a value');
    expect(fieldOf(['-n', 'x'], table)).toBe('--max-tokens');
    expect(fieldOf(['-q'], table)).toBe('-q');
  });

  it('answers --help and -h with any table', () => {
    expect(parseArgs(['-m', 'x', '--help'], table).help).toBe(true);
    expect(parseArgs(['-h'], {}).help).toBe(true);
    expect(parseArgs(['x'], {}).help).toBe(false);
  });

  it('writes --help from the table: spellings, placeholder, repeatable, default', () => {
    const help = flagHelp(table).split('\n');
    expect(help.find((l) => l.includes('--model'))).toMatch(/^ {2}-m, --model FILE +model file$/);
    expect(help.find((l) => l.includes('--max-tokens'))).toMatch(/^ {2}-n, --max-tokens, --n-predict N +tokens to generate \(default 16\)$/);
    expect(help.find((l) => l.includes('--temperature'))).toMatch(/^ {6}--temperature, --temp X +sampling temperature$/);
    expect(help.find((l) => l.includes('--backend'))).toMatch(/-b, --backend VALUE\[,…\] +backends \(repeatable\)$/);
    expect(help.at(-1)).toMatch(/^ {2}-h, --help +print this help$/);
  });

  it('refuses a table that declares a spelling twice', () => {
    expect(() => parseArgs([], { a: { kind: 'boolean', short: 'x', help: '' }, b: { kind: 'boolean', short: 'x', help: '' } })).toThrow(/-x is declared twice/);
    expect(() => parseArgs([], { a: { kind: 'boolean', short: 'h', help: '' } })).toThrow(/-h is declared twice/);
  });
});
