import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeTernaryCodes } from '../../quant/ternary.js';
import { openModel } from '../open-model.js';
import { buildTinyModel } from '../test-support/tiny-model.js';
import { openGguf } from './reader.js';
import type { GgufValue } from './types.js';
import { gv, writeGguf, writeGgufFile, writeGgufFileStreaming } from './writer.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'trine-gguf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const everyType: [string, GgufValue][] = [
  ['u8', gv.u8(200)], ['i8', gv.i8(-100)], ['u16', gv.u16(60000)], ['i16', gv.i16(-30000)], ['u32', gv.u32(4e9)],
  ['i32', gv.i32(-2e9)], ['f32', gv.f32(Math.fround(0.1))], ['bool', gv.bool(false)], ['str', gv.str('日本 ✓')],
  ['u64', gv.u64(2n ** 53n + 1n)], ['i64', gv.i64(-(2n ** 62n))], ['f64', gv.f64(0.1)],
  ['arr.u8', { type: 'ARRAY', elementType: 'UINT8', value: Uint8Array.of(1, 2, 255) }],
  ['arr.i8', { type: 'ARRAY', elementType: 'INT8', value: Int8Array.of(-1, 127) }],
  ['arr.u16', { type: 'ARRAY', elementType: 'UINT16', value: Uint16Array.of(65535) }],
  ['arr.i16', { type: 'ARRAY', elementType: 'INT16', value: Int16Array.of(-32768, 5) }],
  ['arr.u32', { type: 'ARRAY', elementType: 'UINT32', value: Uint32Array.of(0xffffffff) }],
  ['arr.i32', gv.i32s(Int32Array.of(-7, 7))],
  ['arr.f32', gv.f32s(Float32Array.of(1.5, -0))],
  ['arr.f64', { type: 'ARRAY', elementType: 'FLOAT64', value: Float64Array.of(Math.E) }],
  ['arr.u64', { type: 'ARRAY', elementType: 'UINT64', value: BigUint64Array.of(2n ** 64n - 1n) }],
  ['arr.i64', { type: 'ARRAY', elementType: 'INT64', value: BigInt64Array.of(-1n) }],
  ['arr.bool', { type: 'ARRAY', elementType: 'BOOL', value: [true, false, true] }],
  ['arr.str', gv.strs(['', 'a b', 'ü'])],
  ['arr.empty', gv.strs([])],
];

describe('GGUF writer → reader round trips', () => {
  for (const version of [2, 3] as const) {
    for (const alignment of [1, 32, 64, 4096]) {
      it(`v${version}, alignment ${alignment}: metadata of every type and tensor bytes come back identical`, async () => {
        const meta = new Map<string, GgufValue>(everyType);
        if (alignment !== 32) meta.set('general.alignment', gv.u32(alignment));
        const a = Uint8Array.from({ length: 12 }, (_, i) => i);
        const b = Uint8Array.from({ length: 6 }, (_, i) => 100 + i);
        const file = writeGguf(meta, [{ name: 'a', ne: [3], type: 'F32', data: a }, { name: 'b', ne: [3], type: 'F16', data: b }], { version });
        const g = await openGguf(file);
        expect(g.version).toBe(version);
        expect(g.alignment).toBe(alignment);
        expect(g.keys).toEqual([...meta.keys()]);
        for (const [k, v] of meta) expect(g.metadata.get(k), k).toEqual(v);
        expect(g.dataOffset % alignment).toBe(0);
        expect(g.tensor('b')!.offset).toBe(Math.ceil(12 / alignment) * alignment);
        expect(await g.readTensor('a')).toEqual(a);
        expect(await g.readTensor('b')).toEqual(b);
      });
    }
  }

  for (const ternary of ['I2_S', 'TQ1_0', 'TQ2_0'] as const) {
    for (const embd of ['F32', 'F16', 'BF16'] as const) {
      it(`a ${ternary} model with ${embd} embeddings: identical codes, scales and float tensors after write → read`, async () => {
        const tiny = buildTinyModel({ ternary, embd, layers: 2, seed: ternary.length + embd.length });
        const m = await openModel(tiny.bytes);
        expect(m.config.actQuant).toBe(ternary === 'I2_S' ? 'per_token' : 'per_block256');
        for (const [name, want] of tiny.ternary) {
          const t = await m.readTernary(name);
          expect([t.rows, t.cols]).toEqual([want.rows, want.cols]);
          expect(decodeTernaryCodes(t), name).toEqual(want.codes);
          expect(t.scales, name).toEqual(want.scales);
        }
        const embdTensor = tiny.tensors.find((t) => t.name === 'token_embd.weight')!;
        const mat = await m.readMatrix('token_embd.weight');
        expect(mat.dtype).toBe(embd === 'F16' ? 'f16' : 'f32');
        if (embd !== 'BF16') expect(new Uint8Array(mat.data.buffer)).toEqual(embdTensor.data);
        const normT = tiny.tensors.find((t) => t.name === 'blk.1.ffn_sub_norm.weight')!;
        expect(new Uint8Array((await m.readF32('blk.1.ffn_sub_norm.weight')).data.buffer)).toEqual(normT.data);
        await m.close();
      });
    }
  }

  it('arch bitnet folds blk.N.*.scale tensors into the ternary scales, and uses SiLU', async () => {
    const tiny = buildTinyModel({ arch: 'bitnet', ternary: 'TQ2_0', scaleTensors: true });
    const m = await openModel(tiny.bytes);
    expect(m.config.activation).toBe('silu');
    for (const [name, want] of tiny.ternary) {
      const s = tiny.extraScales.get(name)!;
      expect(s).not.toBe(1);
      expect((await m.readTernary(name)).scales).toEqual(want.scales.map((x) => Math.fround(x * s)));
    }
  });

  it('writes the same bytes to a file, one tensor at a time, as to memory', async () => {
    const tiny = buildTinyModel({ ternary: 'TQ1_0' });
    const file = path.join(tmp, 'tiny.gguf');
    await writeGgufFile(file, tiny.metadata, tiny.tensors);
    expect(new Uint8Array(readFileSync(file))).toEqual(tiny.bytes);
    const m = await openModel(file);
    expect(m.path).toBe(file);
    await m.close();
  });

  it('streams tensors in arbitrary chunks to the same bytes, and checks each byte count', async () => {
    const tiny = buildTinyModel({ ternary: 'I2_S', seed: 2 });
    const file = path.join(tmp, 'streamed.gguf');
    const chunked = function* (t: { name: string }) {
      const data = tiny.tensors.find((x) => x.name === t.name)!.data;
      for (let i = 0; i < data.length; i += 1000) yield data.subarray(i, i + 1000);
    };
    await writeGgufFileStreaming(file, tiny.metadata, tiny.tensors, chunked);
    expect(new Uint8Array(readFileSync(file))).toEqual(tiny.bytes);
    await expect(writeGgufFileStreaming(file, tiny.metadata, tiny.tensors, () => [new Uint8Array(3)])).rejects.toThrow(/3 bytes/);
  });

  it('round-trips a header far above the initial 64 KiB writer buffer (growth keeps every byte)', async () => {
    const tokens = Array.from({ length: 30_000 }, (_, i) => `token-${i}`);
    const ids = Int32Array.from({ length: 30_000 }, (_, i) => i * 7 - 5);
    const file = writeGguf([['t', gv.strs(tokens)], ['ids', gv.i32s(ids)], ['after', gv.u64(2n ** 63n + 5n)]], []);
    expect(file.length).toBeGreaterThan(1 << 19);
    const g = await openGguf(file);
    expect(g.metadata.get('t')!.value).toEqual(tokens);
    expect(g.metadata.get('ids')!.value).toEqual(ids);
    expect(g.metadata.get('after')!.value).toBe(2n ** 63n + 5n);
  });

  it('refuses to write a tensor whose data does not match its type and shape', () => {
    expect(() => writeGguf([], [{ name: 'x', ne: [256], type: 'TQ2_0', data: new Uint8Array(65) }])).toThrow(/needs 66/);
  });
});
