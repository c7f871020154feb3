import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { type ByteSource, MemoryByteSource } from './byte-source.js';
import { openGguf } from './gguf/reader.js';
import { openModel } from './open-model.js';
import { openSafetensors, writeSafetensors } from './safetensors/index.js';
import { baseRaw, rawGguf } from './test-support/raw-gguf.js';
import { buildTinyModel } from './test-support/tiny-model.js';

/** A memory source that records the largest read anyone asked of it. */
class RecordingSource implements ByteSource {
  private inner: MemoryByteSource;
  maxRead = 0;
  reads = 0;
  constructor(bytes: Uint8Array) { this.inner = new MemoryByteSource(bytes); }
  get size() { return this.inner.size; }
  get name() { return 'fuzz'; }
  read(offset: number, length: number) {
    this.maxRead = Math.max(this.maxRead, length);
    this.reads++;
    return this.inner.read(offset, length);
  }
  close() { return this.inner.close(); }
}

const INTERESTING_U64 = [0n, 1n, 2n, 31n, 32n, 63n, 64n, 255n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

type Mutation =
  | { kind: 'flip'; at: number[]; values: number[] }
  | { kind: 'u64'; at: number; value: bigint }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; remove: number; insert: Uint8Array }
  | { kind: 'random'; bytes: Uint8Array; ggufPrefix: boolean };

/** Positions are fractions of the region they hit, so one arbitrary serves files of any size. */
const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const mutation = (headerBias: boolean): fc.Arbitrary<{ m: Mutation; inHeader: boolean }> => fc.record({
  inHeader: headerBias ? fc.integer({ min: 0, max: 9 }).map((x) => x < 8) : fc.boolean(),
  m: fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.array(frac, { minLength: 1, maxLength: 8 }).map((a) => a.map((x) => x * 1e9)), values: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('u64' as const), at: frac.map((x) => x * 1e9), value: fc.oneof(fc.constantFrom(...INTERESTING_U64), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })) }),
    fc.record({ kind: fc.constant('u32' as const), at: frac.map((x) => x * 1e9), value: fc.oneof(fc.constantFrom(0, 1, 3, 9, 12, 13, 34, 35, 36, 255, 0xffffffff), fc.nat()) }),
    fc.record({ kind: fc.constant('truncate' as const), at: frac.map((x) => x * 1e9) }),
    fc.record({ kind: fc.constant('splice' as const), at: frac.map((x) => x * 1e9), remove: fc.nat({ max: 16 }), insert: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 600 }), ggufPrefix: fc.boolean() }),
  ),
});

function apply(base: Uint8Array, headerEnd: number, { m, inHeader }: { m: Mutation; inHeader: boolean }): Uint8Array {
  const region = inHeader ? headerEnd : base.length;
  const pos = (x: number) => Math.floor(x / 1e9 * region);
  switch (m.kind) {
    case 'flip': {
      const out = base.slice();
      m.at.forEach((a, i) => { out[pos(a)] = m.values[i]!; });
      return out;
    }
    case 'u64': {
      const out = base.slice();
      const at = Math.min(pos(m.at), out.length - 8);
      if (at >= 0) new DataView(out.buffer).setBigUint64(at, m.value, true);
      return out;
    }
    case 'u32': {
      const out = base.slice();
      const at = Math.min(pos(m.at), out.length - 4);
      if (at >= 0) new DataView(out.buffer).setUint32(at, m.value, true);
      return out;
    }
    case 'truncate':
      return base.slice(0, pos(m.at));
    case 'splice': {
      const at = pos(m.at);
      const out = new Uint8Array(base.length - Math.min(m.remove, base.length - at) + m.insert.length);
      out.set(base.subarray(0, at));
      out.set(m.insert, at);
      out.set(base.subarray(at + m.remove), at + m.insert.length);
      return out;
    }
    case 'random': {
      if (!m.ggufPrefix) return m.bytes;
      const out = new Uint8Array(24 + m.bytes.length);
      new DataView(out.buffer).setUint32(0, 0x46554747, true);
      new DataView(out.buffer).setUint32(4, 3, true);
      out.set(m.bytes.subarray(0, 16), 8); // counts from the random bytes
      out.set(m.bytes, 24);
      return out;
    }
  }
}

const stats = { runs: 0, accepted: 0, rejected: new Map<string, number>() };
function count(e: unknown) {
  stats.runs++;
  if (e === undefined) { stats.accepted++; return; }
  const k = TrineError.is(e) ? e.code : 'OTHER';
  stats.rejected.set(k, (stats.rejected.get(k) ?? 0) + 1);
}

/** Open, validate and read everything; returns the error (or undefined). Any non-TrineError fails the property. */
async function exercise(bytes: Uint8Array): Promise<unknown> {
  const src = new RecordingSource(bytes);
  let err: unknown;
  try {
    const g = await openGguf(src);
    // Nothing the header declared may exceed what the file holds.
    let elements = 0;
    for (const v of g.metadata.values()) if (v.type === 'ARRAY') elements += (v.value as ArrayLike<unknown>).length;
    expect(elements).toBeLessThanOrEqual(bytes.length);
    expect(g.tensorBytes).toBeLessThanOrEqual(bytes.length);
    const m = await openModel(src);
    for (const t of m.tensors) {
      if (t.type === 'I2_S' || t.type === 'TQ1_0' || t.type === 'TQ2_0') await m.readTernary(t.name);
      else if (t.shape.length === 2) await m.readMatrix(t.name);
      else await m.readF32(t.name);
    }
  } catch (e) {
    err = e;
  }
  expect(src.maxRead).toBeLessThanOrEqual(bytes.length);
  if (err !== undefined && !TrineError.is(err)) throw new Error(`not a TrineError: ${String(err)}`, { cause: err });
  return err;
}

describe('fuzzing: every outcome is success or a TrineError, reads stay within the file', () => {
  const model = buildTinyModel({ hidden: 128, heads: 2, kvHeads: 1, ffn: 256, vocab: 260, seed: 9 });
  const tq = buildTinyModel({ hidden: 256, heads: 2, kvHeads: 1, ffn: 256, vocab: 260, ternary: 'TQ1_0', seed: 4 });
  const rawBase = rawGguf(baseRaw());

  it('GGUF: 10,000 mutated files (tiny models and a minimal file)', async () => {
    const modelHeader = (await openGguf(model.bytes)).dataOffset;
    const tqHeader = (await openGguf(tq.bytes)).dataOffset;
    const bases = [
      { bytes: model.bytes, header: modelHeader },
      { bytes: tq.bytes, header: tqHeader },
      { bytes: rawBase, header: rawBase.length },
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 2 }), mutation(true), async (b, mut) => {
        const base = bases[b]!;
        count(await exercise(apply(base.bytes, base.header, mut)));
      }),
      { numRuns: 10_000, seed: 20261128 },
    );
    console.log(`[gguf fuzz] runs: ${stats.runs}, accepted: ${stats.accepted}, rejected: ${[...stats.rejected].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    expect(stats.runs).toBe(10_000);
    expect(stats.rejected.get('OTHER')).toBeUndefined();
    // The mutations must actually exercise both outcomes.
    expect(stats.accepted).toBeGreaterThan(100);
    expect(stats.rejected.get('INVALID_MODEL_FILE') ?? 0).toBeGreaterThan(2000);
  });

  it('safetensors: 3,000 mutated files', async () => {
    const st = writeSafetensors([
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [4, 8], data: new Uint8Array(64) },
      { name: 'w', dtype: 'U8', shape: [2, 8], data: new Uint8Array(16) },
      { name: 's', dtype: 'F32', shape: [1], data: new Uint8Array(4) },
    ], { format: 'pt' });
    const header = 8 + Number(new DataView(st.buffer).getBigUint64(0, true));
    let ok = 0, bad = 0;
    await fc.assert(
      fc.asyncProperty(mutation(true), async (mut) => {
        const bytes = apply(st, header, mut);
        const src = new RecordingSource(bytes);
        try {
          const f = await openSafetensors(src);
          for (const t of f.tensors) await f.readTensor(t);
          ok++;
        } catch (e) {
          if (!TrineError.is(e)) throw new Error(`not a TrineError: ${String(e)}`, { cause: e });
          bad++;
        }
        expect(src.maxRead).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 3_000, seed: 7 },
    );
    console.log(`[safetensors fuzz] runs: ${ok + bad}, accepted: ${ok}, rejected: ${bad}`);
    expect(ok + bad).toBe(3_000);
    expect(ok).toBeGreaterThan(10);
    expect(bad).toBeGreaterThan(500);
  });
});
