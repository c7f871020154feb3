/**
 * End to end: spawns the built CLI (apps/cli/dist/main.js, built by `pnpm build` / turbo before the tests) on the
 * embedded default model, cached in a temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, ensureDefaultModel, openModel, TRAINED_DEFAULT_MODEL_NAME } from '@trine/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(root, 'apps', 'cli', 'dist', 'main.js');
let cacheDir: string;

/** Runs the CLI; a last object argument adds environment variables. */
function trine(...args: (string | Record<string, string>)[]): { code: number | null; stdout: string; stderr: string } {
  const env = typeof args.at(-1) === 'object' ? (args.pop() as Record<string, string>) : {};
  const r = spawnSync(process.execPath, [main, ...(args as string[])], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TRINE_CACHE_DIR: cacheDir, TRINE_BACKEND: '', TRINE_THREADS: '', TRINE_LM_HEAD: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  expect(existsSync(main), `${main} is missing: run \`pnpm build\` first`).toBe(true);
  cacheDir = mkdtempSync(join(tmpdir(), 'trine-cli-'));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('trine generate', () => {
  it('--json prints one object with text, token_ids, finish_reason, usage and timings', () => {
    const r = trine('generate', '--prompt', 'hi', '--max-tokens', '8', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(typeof out.text).toBe('string');
    const ids = out.token_ids as number[];
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThanOrEqual(8);
    expect(ids.every((t) => Number.isInteger(t) && t >= 0)).toBe(true);
    expect(['stop', 'length']).toContain(out.finish_reason);
    expect(out.usage).toEqual({ input_tokens: expect.any(Number), output_tokens: ids.length });
    expect((out.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    const timings = out.timings as Record<string, number>;
    for (const k of ['prefill_ms', 'time_to_first_token_ms', 'decode_ms', 'per_token_ms']) expect(timings[k]).toBeGreaterThanOrEqual(0);
    expect(out.top_logprobs).toBeUndefined();
    expect(out.model).toBe(TRAINED_DEFAULT_MODEL_NAME); // the embedded default is the trained model
  });

  it('streams the same text as --json gives, and seeded sampling with top logprobs repeats exactly', () => {
    const json = JSON.parse(trine('generate', '--prompt', 'Once upon', '--max-tokens', '10', '--backend', 'reference', '--json').stdout) as { text: string };
    const streamed = trine('generate', '--prompt', 'Once upon', '--max-tokens', '10', '--backend', 'reference');
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toBe(json.text);

    const args = ['generate', '--prompt', 'x', '--max-tokens', '6', '--temperature', '0.9', '--top-k', '50', '--seed', '42', '--top-logprobs', '3', '--backend', 'reference', '--json'];
    const a = JSON.parse(trine(...args).stdout) as { token_ids: number[]; top_logprobs: { token_id: number; logprob: number }[][] };
    const b = JSON.parse(trine(...args).stdout) as { token_ids: number[] };
    expect(b.token_ids).toEqual(a.token_ids);
    expect(a.top_logprobs).toHaveLength(a.token_ids.length);
    for (const step of a.top_logprobs) {
      expect(step).toHaveLength(3);
      expect(step[0]!.logprob).toBeGreaterThanOrEqual(step[1]!.logprob);
      expect(step[0]!.logprob).toBeLessThanOrEqual(0);
    }
  });

  it('--chat renders the prompt with the chat template (more input tokens)', () => {
    const plain = JSON.parse(trine('generate', '--prompt', 'hi', '--max-tokens', '1', '--backend', 'reference', '--json').stdout) as { usage: { input_tokens: number } };
    const chat = JSON.parse(trine('generate', '--prompt', 'hi', '--chat', '--max-tokens', '1', '--backend', 'reference', '--json').stdout) as { usage: { input_tokens: number } };
    expect(chat.usage.input_tokens).toBeGreaterThan(plain.usage.input_tokens);
  });
});

describe('trine tokenize and info', () => {
  it('tokenize prints ids with BOS; --chat adds the template', async () => {
    const source = await openModel(await ensureDefaultModel());
    const spec = source.tokenizer;
    await source.close();
    const plain = trine('tokenize', 'hello world');
    expect(plain.code).toBe(0);
    const ids = JSON.parse(plain.stdout) as number[];
    expect(ids[0]).toBe(spec.bosId);
    expect(ids.length).toBeGreaterThan(1);
    const chat = JSON.parse(trine('tokenize', '--chat', 'hello world').stdout) as number[];
    expect(chat.length).toBeGreaterThan(ids.length);
    expect(chat[0]).toBe(spec.bosId);
  });

  it('info describes the default model file', async () => {
    const path = await ensureDefaultModel({ cacheDir });
    const r = trine('info', path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/bitnet-b1\.58/);
    expect(r.stdout).toMatch(/I2_S/);
    expect(r.stdout).not.toMatch(/weights are RANDOM/);
    // The random-weight model (tests, bench shapes) is still flagged as such.
    expect(trine('info', await ensureDefaultModel({ cacheDir, random: true })).stdout).toMatch(/weights are RANDOM/);
    // generate (above) measured the backends on this model once; info reads that measurement back.
    expect(r.stdout).toMatch(/^backend: +(reference|cpu|wasm|webgpu) \(cached measurement from \d{4}-\d\d-\d\d \d\d:\d\d UTC: .*reference \d+\.\d\d ms\/token/m);
    const forced = trine('info', path, '--backend', 'wasm');
    expect(forced.stdout).toMatch(/^backend: +wasm \(forced by --backend\)$/m);
    const json = JSON.parse(trine('info', path, '--json').stdout) as { backend: { how: string; trials: { name: string; ok: boolean; reason?: string; tuning?: string[] }[] } };
    expect(json.backend.how).toBe('cached');
    expect(json.backend.trials.map((t) => t.name)).toEqual(['reference', 'cpu', 'wasm', 'webgpu']);
    // The cpu backend's trial chose a batch-1 kernel for each matrix shape by timing them, and the cache kept it.
    const cpu = json.backend.trials.find((t) => t.name === 'cpu')!;
    expect(cpu.ok, `cpu trial: ${cpu.reason}`).toBe(true);
    expect(cpu.tuning?.length).toBeGreaterThan(0);
    for (const line of cpu.tuning!) expect(line).toMatch(/^batch-1 ternary \d+x\d+: [\w-]+ \((measured|measured earlier|only)\b/);
    expect(r.stdout).toContain(`kernels:      cpu ${cpu.tuning![0]}`);
  });
});

describe('trine --verbose', () => {
  it('says which backend runs and why on stderr', () => {
    const forced = trine('generate', '--prompt', 'hi', '--max-tokens', '1', '--verbose', { TRINE_BACKEND: 'reference' });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toBe('trine: backend reference (forced by TRINE_BACKEND)\n');
    const chosen = trine('generate', '--prompt', 'hi', '--max-tokens', '1', '--verbose');
    expect(chosen.stderr).toMatch(/^trine: backend \w+ \((measured on this host|cached measurement from \d{4}-\d\d-\d\d \d\d:\d\d UTC): /);
  });

  it('a bad TRINE_BACKEND or TRINE_THREADS is a usage error naming the variable', () => {
    const backend = trine('generate', '--prompt', 'hi', { TRINE_BACKEND: 'tpu' });
    expect(backend.code).toBe(2);
    expect(backend.stderr).toMatch(/TRINE_BACKEND: unknown backend 'tpu' \(known: reference, cpu, wasm, webgpu\)/);
    const threads = trine('generate', '--prompt', 'hi', { TRINE_THREADS: 'many' });
    expect(threads.code).toBe(2);
    expect(threads.stderr).toMatch(/TRINE_THREADS: must be an integer in \[1, 1024\], got 'many'/);
    const lm = trine('generate', '--prompt', 'hi', { TRINE_LM_HEAD: 'q4' });
    expect(lm.code).toBe(2);
    expect(lm.stderr).toMatch(/TRINE_LM_HEAD: must be f16, f32, q8, got 'q4'/);
  });

  it('--lm-head q8 (or TRINE_LM_HEAD=q8) loads the one q8 matrix and generates', () => {
    for (const how of [['--lm-head', 'q8'], [{ TRINE_LM_HEAD: 'q8' }]] as (string | Record<string, string>)[][]) {
      const r = trine('generate', '--prompt', 'hi', '--max-tokens', '4', '--backend', 'reference', '--json', ...how);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { usage: { output_tokens: number } }).usage.output_tokens).toBeGreaterThan(0);
    }
  });
});

describe('trine perplexity', () => {
  it('scores the second half of each window of a text, and the trained default model beats chance by far', () => {
    const text = join(cacheDir, 'text.txt');
    writeFileSync(text, 'And it came to pass, when the men of the city saw the king, that they went out and said unto him. '.repeat(6));
    const r = trine('perplexity', '--text', text, '--ctx', '64', '--backend', 'reference', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { perplexity: number; stderr: number; windows: number; scored: number; tokensPerSecond: number };
    expect(out.scored).toBe(out.windows * (64 / 2 - 1));
    expect(out.windows).toBeGreaterThanOrEqual(2);
    expect(out.perplexity).toBeGreaterThan(1);
    expect(out.perplexity).toBeLessThan(500); // chance is the vocabulary, 4096
    expect(out.stderr).toBeGreaterThan(0);
    expect(out.tokensPerSecond).toBeGreaterThan(0);
    const human = trine('perplexity', '--text', text, '--ctx', '64', '--backend', 'reference');
    expect(human.stdout).toMatch(/^perplexity \d+\.\d{4} ± \d+\.\d{4} {2}\(\d+ tokens scored in \d+ windows of 64\)\n[\d.]+ tokens\/s on reference/);
  });

  it('names the flag of a bad input', () => {
    expect(trine('perplexity', '--backend', 'reference').stderr).toMatch(/--text: is required/);
    const missing = trine('perplexity', '--text', join(cacheDir, 'nope.txt'), '--backend', 'reference');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--text: cannot read .*nope\.txt \(ENOENT\)/);
  });
});

describe('trine conformance', () => {
  it('delegates to the conformance kit (exit 0 when the reference passes, 2 on a bad flag)', () => {
    const r = trine('conformance', '--backend', 'reference', '--quick', '--filter', 'argmax');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/reference: \d+ pass, 0 fail/);
    expect(trine('conformance', '--bogus').code).toBe(2);
  });
});

describe('trine generate with a response format', () => {
  it('--json-schema FILE gives JSON valid under the schema; --grammar FILE and --regex text they match', () => {
    const schemaFile = join(cacheDir, 'schema.json');
    writeFileSync(schemaFile, JSON.stringify({ type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer' } }, required: ['ok', 'n'], additionalProperties: false }));
    const r = trine('generate', '--prompt', 'Reply:', '--json-schema', schemaFile, '--max-tokens', '64', '--backend', 'reference', '--json');
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { text: string; finish_reason: string };
    expect(out.finish_reason).toBe('stop');
    const value = JSON.parse(out.text) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['ok', 'n']);
    expect(typeof value.ok).toBe('boolean');
    expect(Number.isInteger(value.n)).toBe(true);

    const grammarFile = join(cacheDir, 'list.gbnf');
    writeFileSync(grammarFile, 'root ::= item ("," item){2}  # three items\nitem ::= [a-z] [0-9]\n');
    const g = trine('generate', '--prompt', 'List:', '--grammar', grammarFile, '--backend', 'reference');
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/^[a-z][0-9](,[a-z][0-9]){2}$/);
    const re = trine('generate', '--prompt', 'Code:', '--regex', '[A-Z]{3}-[0-9]{2}', '--backend', 'reference');
    expect(re.stdout).toMatch(/^[A-Z]{3}-[0-9]{2}$/);
  });

  it('--ignore-eos runs to --max-tokens where --logit-bias forces end-of-generation; bad values name the flag', async () => {
    const source = await openModel(await ensureDefaultModel({ cacheDir }));
    const eosId = createTokenizer(source.tokenizer).eosIds[0]!;
    await source.close();
    const forced = (extra: string[]) => JSON.parse(trine('generate', '--prompt', 'hi', '--max-tokens', '6', '--backend', 'reference', '--json', '--logit-bias', `${eosId}=100`, ...extra).stdout) as { finish_reason: string; token_ids: number[] };
    expect(forced([]).token_ids).toHaveLength(0);
    const ignored = forced(['--ignore-eos', '--min-p', '0.05', '--presence-penalty', '0.5', '--frequency-penalty', '0.5', '--typical-p', '0.9', '--seed', '1', '--temperature', '0.8']);
    expect(ignored.finish_reason).toBe('length');
    expect(ignored.token_ids).toHaveLength(6);
    expect(trine('generate', '--prompt', 'hi', '--logit-bias', 'x=1').stderr).toContain('--logit-bias');
    expect(trine('generate', '--prompt', 'hi', '--logit-bias', '99999999=1', '--backend', 'reference').stderr).toContain('logit_bias[99999999]');
    expect(trine('generate', '--prompt', 'hi', '--min-p', '2').stderr).toContain('--min-p');
  });

  it('an unsupported schema keyword, a bad grammar or two formats at once are errors naming them', () => {
    const schemaFile = join(cacheDir, 'bad-schema.json');
    writeFileSync(schemaFile, JSON.stringify({ type: 'object', properties: { n: { type: 'number', exclusiveMinimum: 0 } } }));
    const r = trine('generate', '--prompt', 'hi', '--json-schema', schemaFile, '--backend', 'reference');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('exclusiveMinimum');
    const grammarFile = join(cacheDir, 'bad.gbnf');
    writeFileSync(grammarFile, 'root ::= missing\n');
    expect(trine('generate', '--prompt', 'hi', '--grammar', grammarFile, '--backend', 'reference').stderr).toContain("'missing'");
    const both = trine('generate', '--prompt', 'hi', '--grammar', grammarFile, '--json-object');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--json-object');
  });
});

describe('trine errors', () => {
  it('a missing model file is one clear sentence on stderr and a non-zero exit', () => {
    const r = trine('generate', '--model', join(cacheDir, 'missing.gguf'), '--prompt', 'hi');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not found/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const verbose = trine('generate', '--model', join(cacheDir, 'missing.gguf'), '--prompt', 'hi', '--verbose');
    expect(verbose.code).not.toBe(0);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('bad flag values are rejected with the flag named', () => {
    for (const [args, flag] of [
      [['--top-p', '1.5'], '--top-p'],
      [['--max-tokens', 'ten'], '--max-tokens'],
      [['--temperature', '-1'], '--temperature'],
      [['--seed', '1.5'], '--seed'],
      [['--wat'], '--wat'],
    ] as const) {
      const r = trine('generate', '--prompt', 'hi', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(flag);
    }
    expect(trine('generate').stderr).toContain('--prompt');
    expect(trine('frobnicate').code).toBe(2);
    expect(trine('generate', '--prompt', 'hi', '--backend', 'nosuch').stderr).toMatch(/nosuch/);
  });
});
