import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openGgufBytes } from '../formats/gguf/index.js';
import { buildDefaultTokenizerSpec, tokenizerSpecFromGguf } from '../tokenizer/index.js';
import { buildDefaultModelBytes, DEFAULT_MODEL_SHAPE } from './build.js';
import { defaultModelKey, ensureDefaultModel } from './cache.js';

const spec = buildDefaultTokenizerSpec();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('default model', () => {
  it('is a bitnet-b1.58 GGUF with I2_S projections, F16 tied embeddings and the default tokenizer', async () => {
    const bytes = buildDefaultModelBytes(spec);
    const file = await openGgufBytes(bytes);
    const s = DEFAULT_MODEL_SHAPE;
    expect(file.metadata.get('general.architecture')?.value).toBe('bitnet-b1.58');
    expect(String(file.metadata.get('general.name')?.value)).toMatch(/random/);
    expect(file.metadata.get('bitnet-b1.58.attention.head_count_kv')?.value).toBe(s.kvHeads);
    expect(file.tensor('token_embd.weight')?.type).toBe('F16');
    expect(file.tensor('token_embd.weight')?.ne).toEqual([s.hidden, spec.tokens.length]);
    expect(file.tensor('output.weight')).toBeUndefined();
    expect(file.tensor('blk.0.ffn_down.weight')?.ne).toEqual([s.ffn, s.hidden]);
    expect(file.tensors.filter((t) => t.type === 'I2_S').length).toBe(7 * s.layers);
    expect(file.tensors.length).toBe(2 + 11 * s.layers);
    const back = tokenizerSpecFromGguf(file.metadata);
    expect(back.tokens).toEqual(spec.tokens);
    expect(back.merges).toEqual(spec.merges);
    expect(back.eotId).toBe(spec.eotId);
    expect(back.chatTemplate).toBe(spec.chatTemplate);
  });

  it('is deterministic: the same bytes on every build', () => {
    const a = buildDefaultModelBytes(spec);
    const b = buildDefaultModelBytes(spec);
    expect(a.length).toBe(b.length);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });

  it('is cached once per key; concurrent builders leave one complete file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trine-default-'));
    dirs.push(dir);
    const paths = await Promise.all([1, 2, 3].map(() => ensureDefaultModel({ cacheDir: dir, tokenizer: spec })));
    expect(new Set(paths).size).toBe(1);
    expect(paths[0]).toBe(join(dir, `default-${await defaultModelKey(spec)}.gguf`));
    const onDisk = await readFile(paths[0]!);
    expect(Buffer.compare(onDisk, Buffer.from(buildDefaultModelBytes(spec)))).toBe(0);
    const before = (await stat(paths[0]!)).mtimeMs;
    expect(await ensureDefaultModel({ cacheDir: dir, tokenizer: spec })).toBe(paths[0]);
    expect((await stat(paths[0]!)).mtimeMs).toBe(before);
  });

  it('keys the cache on the tokenizer', async () => {
    const other = { ...spec, chatTemplate: 'x' };
    expect(await defaultModelKey(other)).not.toBe(await defaultModelKey(spec));
  });
});
