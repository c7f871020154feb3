/**
 * The converted files in the engines they are for: bitnet.cpp's llama-cli runs greedy on a GGUF converted from a HF
 * checkpoint of the I2_S fixture and must write the text bitnet.cpp recorded for the fixture itself (its reference
 * JSON). Runs only where BITNET_CPP_CLI names a llama-cli built by ../shared/tools/build-bitnet-cpp.sh.
 * Mainline llama.cpp's llama-cli runs greedy on TQ2_0/TQ1_0 files converted from a HF checkpoint of the TQ2_0 fixture
 * (arch `bitnet`, SiLU FFN) and must write the text of Trine's greedy tokens on the same file, which are also the
 * tokens llama.cpp recorded for the fixture. Runs only where LLAMA_CPP_CLI names a mainline llama-cli (ggml-org
 * d7da8dc8, the fixtures' engine; CMake Release, shared libraries, GGML_NATIVE, LLAMA_CURL off).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING, Engine, openModel, referenceBackendFactory, writeHfDirectory } from '@trine/core';
import { type ConvertType, convertToGguf } from '../src/index.js';
import { repoRoot, tempDir } from './support.js';

const cli = process.env.BITNET_CPP_CLI;
const llamaCli = process.env.LLAMA_CPP_CLI;
const fixtures = join(repoRoot, '..', 'shared', 'fixtures');

function run(args: string[], bin = cli!): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`llama-cli exited ${code}`))));
  });
}

describe.skipIf(!cli)('bitnet.cpp runs the converted files (BITNET_CPP_CLI)', () => {
  let tmp: { path: string; remove: () => void };
  beforeAll(async () => {
    tmp = tempDir('trine-engines-');
    const g = await openModel(join(fixtures, 'tiny-bitnet-b158-i2_s.gguf'));
    await writeHfDirectory(join(tmp.path, 'hf'), g);
    await g.close();
  });
  afterAll(() => tmp.remove());

  for (const type of ['i2_s', 'tq2_0'] as ConvertType[]) {
    it(`${type}: greedy text equals bitnet.cpp's recorded text for the fixture`, async () => {
      const ref = JSON.parse(readFileSync(join(fixtures, 'tiny-bitnet-b158-i2_s.reference.json'), 'utf8')) as {
        prompts: { text: string; greedy: { token_ids: number[]; text_utf8_hex: string } }[];
      };
      const p = ref.prompts[0]!;
      const out = join(tmp.path, `m-${type}.gguf`);
      await convertToGguf(join(tmp.path, 'hf'), type, out);
      const text = await run(['-m', out, '-p', p.text, '-n', String(p.greedy.token_ids.length), '--temp', '0', '-t', '1', '-c', '256', '-b', '256']);
      expect(text.toString('hex')).toBe(`${Buffer.from(p.text).toString('hex')}${p.greedy.text_utf8_hex}0a0a`);
    });
  }
});

describe.skipIf(!llamaCli)('mainline llama.cpp runs the converted TQ files (LLAMA_CPP_CLI)', () => {
  let tmp: { path: string; remove: () => void };
  beforeAll(async () => {
    tmp = tempDir('trine-engines-llama-');
    const g = await openModel(join(fixtures, 'tiny-bitnet-tq2_0.gguf'));
    await writeHfDirectory(join(tmp.path, 'hf'), g); // hidden_act silu: llama.cpp's `bitnet` graph
    await g.close();
  });
  afterAll(() => tmp.remove());

  for (const type of ['tq2_0', 'tq1_0'] as ConvertType[]) {
    it(`${type}: arch bitnet; llama.cpp's greedy text is the text of Trine's greedy tokens on the same file`, async () => {
      const ref = JSON.parse(readFileSync(join(fixtures, `tiny-bitnet-${type}.reference.json`), 'utf8')) as {
        prompts: { text: string; greedy: { token_ids: number[] } }[];
      };
      const p = ref.prompts[0]!;
      const n = p.greedy.token_ids.length;
      const out = join(tmp.path, `m-${type}.gguf`);
      expect(await convertToGguf(join(tmp.path, 'hf'), type, out)).toMatchObject({ arch: 'bitnet', type, notes: [] });
      const engine = await Engine.load({ model: out, backend: referenceBackendFactory, maxBatch: 1, context: 256 });
      let bytes: Uint8Array;
      try {
        const ids: number[] = [];
        for await (const ev of engine.generate({ prompt: p.text, sampling: { ...DEFAULT_SAMPLING, maxTokens: n, ignoreEos: true } })) {
          if (ev.type === 'token') ids.push(ev.tokenId);
        }
        expect(ids).toEqual(p.greedy.token_ids); // the tokens llama.cpp recorded for the fixture itself
        bytes = engine.tokenizer.decodeBytes(ids);
      } finally {
        await engine.close();
      }
      const text = await run(['-m', out, '-p', p.text, '-n', String(n), '--temp', '0', '--ignore-eos', '-no-cnv', '-t', '1', '-c', '256', '-b', '256'], llamaCli);
      expect(text.toString('hex')).toBe(`${Buffer.from(p.text).toString('hex')}${Buffer.from(bytes).toString('hex')}0a0a`);
    });
  }
});
