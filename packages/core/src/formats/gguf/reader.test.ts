import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TrineError } from '../../errors/index.js';
import { FileByteSource, MemoryByteSource } from '../byte-source.js';
import { FIXTURE_NAMES, fixturePath, haveFixtures, readReference } from '../test-support/fixtures.js';
import { openGguf } from './reader.js';
import { gv, writeGguf } from './writer.js';
import type { GgufValue } from './types.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!haveFixtures())('GGUF reader on the shared fixtures', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: header, metadata and every tensor match the reference JSON`, async () => {
      const ref = readReference(name);
      const g = await openGguf(fixturePath(name));
      try {
        expect(g.source.size).toBe(ref.fixture_bytes);
        expect(g.version).toBe(ref.gguf.version);
        expect(g.alignment).toBe(ref.gguf.alignment);
        expect(g.dataOffset).toBe(ref.gguf.tensor_data_offset);
        expect(g.keys).toEqual(ref.metadata.map((m) => m.key));
        for (const m of ref.metadata) {
          const v = g.metadata.get(m.key)!;
          const type = v.type === 'ARRAY' ? `ARRAY[${v.elementType}]` : v.type;
          expect(type, m.key).toBe(m.type);
          if (m.count === undefined) {
            if (v.type === 'FLOAT32') expect(v.value, m.key).toBe(Math.fround(m.value as number));
            else expect(v.value, m.key).toEqual(m.value);
          } else {
            const arr = v.value as ArrayLike<unknown>;
            expect(arr.length, m.key).toBe(m.count);
            expect(Array.from(arr).slice(0, m.first!.length), m.key).toEqual(m.first);
          }
        }
        expect(g.tensors.map((t) => t.name)).toEqual(ref.tensors.map((t) => t.name));
        for (const t of ref.tensors) {
          const info = g.tensor(t.name)!;
          expect([info.type, info.typeId, info.ne, info.fileOffset, info.byteSize]).toEqual([t.type, t.ggml_type_id, t.ne, t.data_offset_in_file, t.nbytes]);
          expect(sha(await g.readTensor(info)), t.name).toBe(t.sha256);
        }
      } finally {
        await g.close();
      }
    });
  }

  it('reads the same from memory as from a file descriptor', async () => {
    const bytes = readFileSync(fixturePath('tiny-bitnet-tq2_0'));
    const a = await openGguf(new MemoryByteSource(bytes));
    const b = await openGguf(await FileByteSource.open(fixturePath('tiny-bitnet-tq2_0')));
    expect(a.keys).toEqual(b.keys);
    expect(a.tensors).toEqual(b.tensors);
    expect(await a.readTensor('blk.1.ffn_up.weight')).toEqual(await b.readTensor('blk.1.ffn_up.weight'));
    await b.close();
  });

  it('refuses a file whose tensors exceed the memory budget before reading any tensor', async () => {
    const err = await openGguf(fixturePath('tiny-bitnet-tq1_0'), { memoryBudgetBytes: 100_000 }).catch((e: unknown) => e);
    expect(TrineError.is(err, 'BUDGET_EXCEEDED')).toBe(true);
  });
});

describe('GGUF reader basics', () => {
  it('reads every metadata value type, 64-bit values as bigint', async () => {
    const meta: [string, GgufValue][] = [
      ['a.u8', gv.u8(255)], ['a.i8', gv.i8(-128)], ['a.u16', gv.u16(65535)], ['a.i16', gv.i16(-32768)],
      ['a.u32', gv.u32(0xffffffff)], ['a.i32', gv.i32(-5)], ['a.f32', gv.f32(1.5)], ['a.bool', gv.bool(true)],
      ['a.str', gv.str('héllo')], ['a.u64', gv.u64(2n ** 64n - 1n)], ['a.i64', gv.i64(-(2n ** 63n))], ['a.f64', gv.f64(Math.PI)],
      ['a.arr', gv.strs(['x', '', 'zz'])], ['a.arr2', { type: 'ARRAY', elementType: 'BOOL', value: [true, false] }],
      ['a.arr3', { type: 'ARRAY', elementType: 'INT64', value: BigInt64Array.of(-1n, 2n ** 60n) }],
    ];
    const g = await openGguf(writeGguf(meta, [{ name: 't', ne: [4], type: 'F32', data: new Uint8Array(16) }]));
    for (const [k, v] of meta) expect(g.metadata.get(k), k).toEqual(v);
    expect(g.tensors[0]).toMatchObject({ name: 't', type: 'F32', fileOffset: g.dataOffset, byteSize: 16 });
  });

  it('rejects a file that ends mid-header with the field and offset', async () => {
    const file = writeGguf([['general.name', gv.str('x')]], []);
    const err = await openGguf(file.subarray(0, 40)).catch((e: unknown) => e);
    expect(TrineError.is(err, 'INVALID_MODEL_FILE')).toBe(true);
    expect((err as TrineError).field).toBe('kv[0].key');
    expect((err as TrineError).offset).toBe(24);
  });
});
