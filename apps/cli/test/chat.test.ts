/**
 * `trine chat` as a user drives it: the built CLI (apps/cli/dist/main.js) as a real process, messages and commands
 * written to its stdin, replies read from its stdout, Ctrl-C sent as SIGINT.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, ensureDefaultModel, openModel } from '@trine/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(root, 'apps', 'cli', 'dist', 'main.js');
const PROMPT = '>>> ';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
let cacheDir: string;
let randomModel: string;

/** A running `trine chat`: what it printed so far, a way to wait for its Nth prompt, and its exit. */
interface Chat {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout holds `n` prompts. */
  prompts(n: number): Promise<void>;
  /** Resolves once stdout holds `text` after its `n`th prompt. */
  printedAfter(n: number, text?: string): Promise<void>;
  send(line: string): void;
  exit: Promise<number | null>;
}

function chat(args: string[], env: Record<string, string> = {}): Chat {
  const child = spawn(process.execPath, [main, 'chat', ...args], {
    cwd: root,
    env: { ...process.env, TRINE_CACHE_DIR: cacheDir, TRINE_BACKEND: '', TRINE_THREADS: '', ...env },
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => ((out += d), wake()));
  child.stderr.setEncoding('utf8').on('data', (d: string) => ((err += d), wake()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => (wake(), resolve(code))));
  const until = async (ok: () => boolean, what: string): Promise<void> => {
    while (!ok()) {
      if (child.exitCode !== null) throw new Error(`trine chat exited (${child.exitCode}) before ${what}; stdout: ${out}\nstderr: ${err}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const count = (): number => out.split(PROMPT).length - 1;
  const afterPrompt = (n: number): string => out.split(PROMPT).slice(n).join(PROMPT);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    prompts: (n) => until(() => count() >= n, `prompt ${n}`),
    printedAfter: (n, text) => until(() => count() >= n && afterPrompt(n).length > 0 && (text === undefined || afterPrompt(n).includes(text)), `output after prompt ${n}`),
    send: (line) => child.stdin.write(`${line}\n`),
    exit,
  };
}

/** The replies of a session, in order: the text between a sent line's echo-free prompt and the next prompt. */
function replies(stdout: string): string[] {
  return stdout.split(PROMPT).slice(1, -1).map((r) => r.replace(/\n$/, ''));
}

beforeAll(async () => {
  expect(existsSync(main), `${main} is missing: run \`pnpm build\` first`).toBe(true);
  cacheDir = mkdtempSync(join(tmpdir(), 'trine-chat-'));
  randomModel = await ensureDefaultModel({ cacheDir, random: true });
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('trine chat', () => {
  it('two turns, /save, /reset, /load, and end of input exits 0', async () => {
    const file = join(cacheDir, 'conversation.json');
    const c = chat(['--system', 'You are terse.', '--max-tokens', '12', '--backend', 'reference']);
    await c.prompts(1);
    c.send('Hello there');
    await c.prompts(2);
    c.send('And again');
    await c.prompts(3);
    c.send(`/save ${file}`);
    await c.prompts(4);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { messages: { role: string; content: string }[] };
    expect(saved.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect(saved.messages[0]!.content).toBe('You are terse.');
    expect(saved.messages[3]!.content).toBe('And again');
    const [first, second] = replies(c.stdout());
    expect(saved.messages[2]!.content).toBe(first);
    expect(saved.messages[4]!.content).toBe(second);
    c.send('/reset');
    await c.prompts(5);
    expect(c.stdout()).toContain('Cleared the conversation.');
    c.send(`/load ${file}`);
    await c.prompts(6);
    expect(c.stdout()).toContain(`Loaded 5 messages from ${file}.`);
    c.send('/load /nonexistent/file.json');
    await c.prompts(7);
    expect(c.stdout()).toContain('Could not load /nonexistent/file.json');
    c.child.stdin.end(); // Ctrl-D
    expect(await c.exit).toBe(0);
    expect(c.stderr()).toBe('');
  });

  // Turn 2 starts with turn 1's prompt; its reply must not depend on whether that prefix came from the cache.
  for (const backend of ['reference', 'cpu', 'wasm', 'webgpu']) {
    it(`reuses the last turn's prefix with the same replies as without the cache (${backend})`, async () => {
      const run = async (cacheTokens: string): Promise<{ out: string; err: string }> => {
        const c = chat(['--verbose', '--system', 'You answer questions about rivers in one sentence.', '--max-tokens', '16', '--backend', backend], {
          TRINE_PREFIX_CACHE_TOKENS: cacheTokens,
          // WebGPU through Dawn on SwiftShader where the host has no GPU (as kernels-webgpu's tests run it).
          ...(backend === 'webgpu' && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : {}),
        });
        await c.prompts(1);
        for (const [i, q] of ['Which river is the longest?', 'How long is it?', 'Where does it start?'].entries()) {
          c.send(q);
          await c.prompts(i + 2);
        }
        c.child.stdin.end();
        expect(await c.exit).toBe(0);
        return { out: c.stdout(), err: c.stderr() };
      };
      const cached = await run('100000');
      const plain = await run('0');
      expect(replies(cached.out)).toEqual(replies(plain.out));
      const hits = (err: string) => [...err.matchAll(/(\d+) from the prefix cache/g)].map((m) => Number(m[1]));
      expect(hits(plain.err)).toEqual([0, 0, 0]);
      expect(hits(cached.err)[0]).toBe(0);
      expect(hits(cached.err)[1]).toBeGreaterThan(0);
      expect(hits(cached.err)[2]).toBeGreaterThan(0);
    }, backend === 'webgpu' ? 300_000 : 60_000); // SwiftShader runs WGSL on the CPU, compiling every pipeline first
  }

  it('Ctrl-C stops the reply, not the program, and the REPL prompts again', async () => {
    // The random-weight model rarely ends a reply by itself, so the reply is still running when SIGINT comes.
    const c = chat(['--model', randomModel, '--max-tokens', '100000', '--backend', 'reference']);
    await c.prompts(1);
    c.send('Tell me a long story');
    await c.printedAfter(1);
    c.child.kill('SIGINT');
    await c.prompts(2);
    // Stopped, not run to the end of the context (512 positions): the partial reply is in the history.
    const file = join(cacheDir, 'interrupted.json');
    c.send(`/save ${file}`);
    await c.prompts(3);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { messages: { role: string; content: string }[] };
    expect(saved.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    const source = await openModel(randomModel);
    const tokenizer = createTokenizer(source.tokenizer);
    await source.close();
    const replyTokens = tokenizer.encode(saved.messages[1]!.content).length;
    expect(replyTokens).toBeGreaterThan(0);
    expect(replyTokens).toBeLessThan(200);
    c.send('/reset');
    await c.prompts(4);
    expect(c.stdout()).toContain('Cleared the conversation.');
    c.child.stdin.end();
    expect(await c.exit).toBe(0);
  });
});
