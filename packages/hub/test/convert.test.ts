/**
 * Round trips: a Hugging Face BitNet directory (packed uint8 + weight_scale, written from a shared fixture) is
 * converted to GGUF, loaded by Trine's own loader and run on the reference backend next to the source checkpoint.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import {
  BitNetModel, type ModelSource, type RefHandles, type RefTensor, type SafetensorsWriteTensor, createReferenceBackend,
  decodeTernaryCodes, f32ToBf16, openGguf, openModel, openSafetensors, unpackHfTernary, writeHfDirectory, writeSafetensors,
} from '@trine/core';
import { convertToGguf } from '../src/index.js';
import { FakeHub } from './fake-hub.js';
import { COMMIT_A, repoRoot, tempDir } from './support.js';

const fixtureGguf = join(repoRoot, '..', 'shared', 'fixtures', 'tiny-bitnet-b158-i2_s.gguf');
const PROMPT = Int32Array.of(763, 72, 101, 108, 108, 111, 220, 87, 111, 114, 108, 100);
let tmp: { path: string; remove: () => void };
let hfDir: string;

beforeAll(async () => {
  tmp = tempDir('trine-convert-');
  hfDir = join(tmp.path, 'hf');
  const gguf = await openModel(fixtureGguf);
  await writeHfDirectory(hfDir, gguf);
  await gguf.close();
});
afterAll(() => tmp.remove());

/** Logits after the prompt, on the reference backend. */
async function logits(path: string): Promise<Float32Array> {
  const source = await openModel(path);
  const model = await BitNetModel.load<RefHandles>(source, createReferenceBackend(), { slots: 1 });
  await source.close();
  const n = PROMPT.length;
  const out = model.forward({
    tokens: PROMPT, positions: Int32Array.from({ length: n }, (_, i) => i), slots: new Int32Array(n), logitsFor: Int32Array.of(n - 1),
  }) as RefTensor;
  const row = Float32Array.from(out.data as Float32Array);
  model.dispose();
  return row;
}

async function codesAndScales(source: ModelSource, name: string): Promise<{ codes: Int8Array; scales: Float32Array }> {
  const t = await source.readTernary(name);
  return { codes: decodeTernaryCodes(t), scales: t.scales };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('convert: HF checkpoint → GGUF', () => {
  it('i2_s: arch bitnet-b1.58, the same logits as the source checkpoint, bit for bit', async () => {
    const out = join(tmp.path, 'm-i2_s.gguf');
    const r = await convertToGguf(hfDir, 'i2_s', out);
    expect(r).toMatchObject({ arch: 'bitnet-b1.58', type: 'i2_s', notes: [] });
    const g = await openGguf(out);
    expect(g.metadata.get('general.architecture')?.value).toBe('bitnet-b1.58');
    expect(g.metadata.get('general.file_type')?.value).toBe(40);
    expect(typeof g.metadata.get('tokenizer.chat_template')?.value).toBe('string');
    expect(g.tensors.filter((t) => t.type === 'I2_S').length).toBe(14);
    await g.close();
    const [src, conv] = [await logits(hfDir), await logits(out)];
    expect(Array.from(conv)).toEqual(Array.from(src));
    expect(readdirSync(tmp.path).filter((f) => f.includes('incomplete'))).toEqual([]);
  });

  it("i2_s: every tensor holds the bytes bitnet.cpp's quantizer wrote in the fixture (an I2_S scale to one ulp)", async () => {
    const out = join(tmp.path, 'bytes-i2_s.gguf');
    await convertToGguf(hfDir, 'i2_s', out);
    const [ours, theirs] = [await openGguf(out), await openGguf(fixtureGguf)];
    expect(ours.tensors.map((t) => [t.name, t.type, t.ne])).toEqual(theirs.tensors.map((t) => [t.name, t.type, t.ne]));
    for (const t of theirs.tensors) {
      const [a, b] = [await ours.readTensor(t.name), await theirs.readTensor(t)];
      // I2_S: the packed codes, then an f32 scale and 28 bytes bitnet.cpp leaves unzeroed (fixtures README §3, unread).
      const used = t.type === 'I2_S' ? t.elements / 4 : b.byteLength;
      expect(Buffer.compare(Buffer.from(a.subarray(0, used)), Buffer.from(b.subarray(0, used))), t.name).toBe(0);
      if (t.type === 'I2_S') {
        const scale = (x: Uint8Array): number => new DataView(x.buffer, x.byteOffset + used, 4).getFloat32(0, true);
        // The HF checkpoint stores 1 / scale (transformers divides by weight_scale): reading it back can land one
        // f32 ulp away from bitnet.cpp's value.
        expect(Math.abs(scale(a) - scale(b)) / scale(b), t.name).toBeLessThanOrEqual(2 ** -23);
      }
    }
    await Promise.all([ours.close(), theirs.close()]);
  });

  for (const type of ['tq2_0', 'tq1_0'] as const) {
    it(`${type}: the same ternary codes and scales; logits within the act-quant difference (per 256-block vs per token)`, async () => {
      const out = join(tmp.path, `m-${type}.gguf`);
      const r = await convertToGguf(hfDir, type, out);
      expect(r.arch).toBe('bitnet-b1.58'); // a ReLU² model is not llama.cpp's SiLU `bitnet`
      expect(r.notes.join()).toMatch(/SiLU/);
      const [a, b] = [await openModel(hfDir), await openModel(out)];
      for (const name of ['blk.0.attn_q.weight', 'blk.1.ffn_down.weight']) {
        const [x, y] = [await codesAndScales(a, name), await codesAndScales(b, name)];
        expect(Buffer.compare(Buffer.from(x.codes.buffer, x.codes.byteOffset, x.codes.length), Buffer.from(y.codes.buffer, y.codes.byteOffset, y.codes.length))).toBe(0);
        expect(new Set(y.scales)).toEqual(new Set(x.scales)); // one scale per tensor, written in every block (F16-exact here)
      }
      await Promise.all([a.close(), b.close()]);
      // The fixtures' README (§7) puts faithful implementations within 0.3; the act-quant change moves them less.
      expect(maxAbsDiff(await logits(out), await logits(hfDir))).toBeLessThan(0.3);
    });
  }

  it('an unknown --type is refused before anything is opened or written', async () => {
    await expect(convertToGguf(hfDir, 'q4_0' as never, join(tmp.path, 'y.gguf'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: '--type' });
    expect(readdirSync(tmp.path).filter((f) => f.startsWith('y.gguf'))).toEqual([]);
  });
});

/**
 * The -bf16 layout (microsoft/bitnet-b1.58-2B-4T-bf16): every projection as BF16 master weights, no weight_scale.
 * Made from the packed directory: W = code · s in BF16, so absmean's codes must come back as the packed ones.
 */
async function writeBf16Directory(packedDir: string, dir: string): Promise<void> {
  const { cpSync } = await import('node:fs');
  cpSync(packedDir, dir, { recursive: true });
  const st = await openSafetensors(join(packedDir, 'model.safetensors'));
  const scales = new Map<string, number>();
  for (const info of st.tensors) {
    if (info.name.endsWith('.weight_scale')) scales.set(info.name.replace(/_scale$/, ''), 1 / new Float32Array(Uint8Array.from(await st.readTensor(info)).buffer)[0]!);
  }
  const out: SafetensorsWriteTensor[] = [];
  for (const info of st.tensors) {
    if (info.name.endsWith('.weight_scale')) continue;
    const data = Uint8Array.from(await st.readTensor(info));
    if (info.dtype !== 'U8') {
      out.push({ name: info.name, dtype: info.dtype, shape: [...info.shape], data });
      continue;
    }
    const [rows, cols] = [info.shape[0]! * 4, info.shape[1]!];
    const codes = unpackHfTernary(data, rows, cols);
    const s = scales.get(info.name)!;
    out.push({ name: info.name, dtype: 'BF16', shape: [rows, cols], data: new Uint8Array(Uint16Array.from(codes, (c) => f32ToBf16(c * s)).buffer) });
  }
  await st.close();
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(out, { format: 'pt' }));
}

describe('convert: a -bf16 checkpoint (float master weights)', () => {
  it('absmean gives back the packed codes; the GGUF has the logits Trine computes on the bf16 directory', async () => {
    const bf16Dir = join(tmp.path, 'hf-bf16');
    await writeBf16Directory(hfDir, bf16Dir);
    const out = join(tmp.path, 'bf16-i2_s.gguf');
    expect((await convertToGguf(bf16Dir, 'i2_s', out)).arch).toBe('bitnet-b1.58');
    const [packed, conv] = [await openModel(hfDir), await openModel(out)];
    for (const name of ['blk.0.attn_k.weight', 'blk.1.ffn_gate.weight']) {
      const [x, y] = [await codesAndScales(packed, name), await codesAndScales(conv, name)];
      expect(Buffer.compare(Buffer.from(x.codes.buffer, x.codes.byteOffset, x.codes.length), Buffer.from(y.codes.buffer, y.codes.byteOffset, y.codes.length))).toBe(0);
      // absmean's scale is mean|W| = s · (share of non-zero codes), not s: the model the bf16 checkpoint defines.
      const nonZero = x.codes.reduce((n, c) => n + (c !== 0 ? 1 : 0), 0) / x.codes.length;
      expect(y.scales[0]).toBeCloseTo(x.scales[0]! * nonZero, 2);
    }
    await Promise.all([packed.close(), conv.close()]);
    expect(Array.from(await logits(out))).toEqual(Array.from(await logits(bf16Dir)));
  });
});

describe('trine convert hf:… (a real process against the fake Hub)', () => {
  it('pulls the safetensors repo, converts it, and the file loads with the source logits', async () => {
    const hub = await new FakeHub().start();
    const cache = tempDir('trine-convert-cache-');
    try {
      const files = Object.fromEntries(readdirSync(hfDir).map((f) => [f, { bytes: new Uint8Array(readFileSync(join(hfDir, f))), lfs: f.endsWith('.safetensors') }]));
      hub.addRepo('org/tiny-bitnet', { commit: COMMIT_A, files });
      const out = join(tmp.path, 'cli-i2_s.gguf');
      const child = spawn(process.execPath, [join(repoRoot, 'apps', 'cli', 'dist', 'main.js'), 'convert', 'hf:org/tiny-bitnet', '--type', 'i2_s', '-o', out], {
        env: { ...process.env, HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: cache.path, HF_TOKEN: '', HF_HUB_OFFLINE: '' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((r) => child.on('close', r));
      expect(stderr).toMatch(/wrote 24 tensors, arch bitnet-b1\.58, I2_S/);
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(out);
      expect(Array.from(await logits(out))).toEqual(Array.from(await logits(hfDir)));
    } finally {
      await hub.stop();
      cache.remove();
    }
  });
});
