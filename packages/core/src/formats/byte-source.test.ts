import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { FileByteSource, MemoryByteSource, sha256OfSource } from './byte-source.js';
import { openGguf } from './gguf/reader.js';
import { buildTinyModel } from './test-support/tiny-model.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'trine-src-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ByteSource', () => {
  it('reports a file truncated after it was opened instead of reading zeros (TOCTOU)', async () => {
    const file = path.join(tmp, 'shrinks.bin');
    writeFileSync(file, new Uint8Array(4096).fill(7));
    const src = await FileByteSource.open(file);
    expect(await src.read(4000, 96)).toEqual(new Uint8Array(96).fill(7));
    truncateSync(file, 1000);
    const e = await src.read(2000, 100).catch((x: unknown) => x);
    expect(TrineError.is(e, 'INVALID_MODEL_FILE') && e.field).toBe('file');
    await src.close();
    await src.close(); // idempotent
  });

  it('reads into the memory it is given (what a backend adopts), from a file and from memory', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => (i * 37) & 255);
    const file = path.join(tmp, 'into.bin');
    writeFileSync(file, bytes);
    const fromFile = await FileByteSource.open(file);
    for (const src of [fromFile, new MemoryByteSource(bytes)]) {
      const into = new Uint8Array(100);
      const got = await src.read(50, 100, into);
      expect(got).toBe(into);
      expect(Array.from(into)).toEqual(Array.from(bytes.subarray(50, 150)));
      // Memory of another size is not used: the bytes come back in a buffer of their own.
      const other = new Uint8Array(99);
      expect(await src.read(50, 100, other)).not.toBe(other);
      expect(other.every((b) => b === 0)).toBe(true);
    }
    await fromFile.close();
  });

  it('refuses reads past the end, negative ranges and missing files, with typed errors', async () => {
    const src = new MemoryByteSource(new Uint8Array(10));
    await expect(src.read(5, 6)).rejects.toMatchObject({ code: 'INVALID_MODEL_FILE' });
    await expect(src.read(-1, 2)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(FileByteSource.open(path.join(tmp, 'absent'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(FileByteSource.open(tmp)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('checks a SHA-256 allowlist entry over the same descriptor before parsing', async () => {
    const tiny = buildTinyModel({ seed: 12 });
    const file = path.join(tmp, 'tiny.gguf');
    writeFileSync(file, tiny.bytes);
    const good = createHash('sha256').update(tiny.bytes).digest('hex');
    expect(await sha256OfSource(new MemoryByteSource(tiny.bytes), 1000)).toBe(good);
    const g = await openGguf(file, { expectedSha256: good.toUpperCase() });
    expect(g.tensors.length).toBe(tiny.tensors.length);
    await g.close();
    const bad = await openGguf(file, { expectedSha256: '0'.repeat(64) }).catch((x: unknown) => x);
    expect(TrineError.is(bad, 'INVALID_MODEL_FILE') && bad.field).toBe('sha256');
  });
});
