import { describe, expect, it } from 'vitest';
import { TrineError, type TrineErrorCode } from '../errors/index.js';
import { openGguf } from './gguf/reader.js';
import type { GgufValue } from './gguf/types.js';
import { gv, writeGguf } from './gguf/writer.js';
import { openModel } from './open-model.js';
import { openSafetensors, writeSafetensors } from './safetensors/index.js';
import { RawBytes, T, baseRaw, rawGguf, type RawGguf } from './test-support/raw-gguf.js';
import { buildTinyModel } from './test-support/tiny-model.js';

interface Case {
  name: string;
  bytes: () => Uint8Array;
  /** openGguf (header), openModel (GGUF + model checks), or model then readTernary of every projection. */
  via: 'gguf' | 'model' | 'model+read' | 'safetensors';
  code?: TrineErrorCode;
  field: string | RegExp;
  options?: { memoryBudgetBytes?: number };
}

const raw = (edit: (g: RawGguf) => void) => () => {
  const g = baseRaw();
  edit(g);
  return rawGguf(g);
};
const setU32At = (bytes: Uint8Array, at: number, v: number) => { new DataView(bytes.buffer).setUint32(at, v, true); return bytes; };
const valid = () => rawGguf(baseRaw());

// --- model-level mutations, written by Trine's own writer (valid GGUF, invalid model) ---
const tiny = buildTinyModel({ hidden: 128, heads: 2, kvHeads: 1, ffn: 256, vocab: 260, seed: 1 });
const P = 'bitnet-b1.58.';
const withMeta = (edit: (m: Map<string, GgufValue>) => void, tensors = tiny.tensors) => () => {
  const m = new Map(tiny.metadata);
  edit(m);
  return writeGguf(m, tensors);
};
const withTensors = (edit: (t: typeof tiny.tensors) => typeof tiny.tensors) => () => writeGguf(tiny.metadata, edit([...tiny.tensors]));

const ggufCases: Case[] = [
  // header (reliability.md 1–5)
  { name: 'empty file', via: 'gguf', field: 'header', bytes: () => new Uint8Array(0) },
  { name: '23 bytes', via: 'gguf', field: 'header', bytes: () => valid().subarray(0, 23) },
  { name: 'bad magic', via: 'gguf', field: 'magic', bytes: raw((g) => { g.magic = 0x46554748; }) },
  { name: 'version 0', via: 'gguf', field: 'version', bytes: raw((g) => { g.version = 0; }) },
  { name: 'version 1', via: 'gguf', field: 'version', bytes: raw((g) => { g.version = 1; }) },
  { name: 'version 4', via: 'gguf', field: 'version', bytes: raw((g) => { g.version = 4; }) },
  { name: 'byte-swapped version', via: 'gguf', field: 'version', bytes: raw((g) => { g.version = 0x03000000; }) },
  { name: 'n_tensors negative', via: 'gguf', field: 'n_tensors', bytes: raw((g) => { g.nTensors = -1n; }) },
  { name: 'n_kv negative', via: 'gguf', field: 'n_kv', bytes: raw((g) => { g.nKv = -5n; }) },
  { name: 'n_tensors 2^40', via: 'gguf', field: 'n_tensors', bytes: raw((g) => { g.nTensors = 2n ** 40n; }) },
  { name: 'n_kv 2^62', via: 'gguf', field: 'n_kv', bytes: raw((g) => { g.nKv = 2n ** 62n; }) },
  { name: 'n_kv more than the bytes left could hold', via: 'gguf', field: 'n_kv', bytes: raw((g) => { g.nKv = 5000n; }) },
  { name: 'n_tensors more than the bytes left could hold', via: 'gguf', field: 'n_kv', bytes: raw((g) => { g.nTensors = 60000n; }) },
  // KV section (6–11, 15)
  { name: 'key length 2^64−1', via: 'gguf', field: 'kv[0].key', bytes: raw((g) => { g.kvs[0]!.keyLen = 2n ** 64n - 1n; }) },
  { name: 'key length above the cap', via: 'gguf', field: 'kv[1].key', bytes: raw((g) => { g.kvs[1]!.key = 'k'.repeat(2000); }) },
  { name: 'key length past the end of the file', via: 'gguf', field: 'kv[0].key', bytes: raw((g) => { g.kvs[0]!.keyLen = 900n; }) },
  { name: 'empty key', via: 'gguf', field: 'kv[1].key', bytes: raw((g) => { g.kvs[1]!.key = ''; }) },
  { name: 'duplicate key', via: 'gguf', field: 'general.architecture', bytes: raw((g) => { g.kvs[1]!.key = 'general.architecture'; }) },
  { name: 'key not valid UTF-8', via: 'gguf', field: 'kv[1].key', bytes: raw((g) => { g.kvs[1]!.key = Uint8Array.of(0x61, 0xff, 0xfe); }) },
  { name: 'value type 13', via: 'gguf', field: 'general.name.type', bytes: raw((g) => { g.kvs[1]!.type = 13; }) },
  { name: 'value type −1', via: 'gguf', field: 'general.name.type', bytes: raw((g) => { g.kvs[1]!.type = -1; }) },
  { name: 'array of arrays', via: 'gguf', field: 'test.list.type', bytes: raw((g) => { g.kvs[2]!.value = (b) => b.i32(T.ARRAY).u64(1n).i32(T.UINT8).u64(1n).u8(1); }) },
  { name: 'array element type 200', via: 'gguf', field: 'test.list.type', bytes: raw((g) => { g.kvs[2]!.value = (b) => b.i32(200).u64(0n); }) },
  { name: 'array count above the cap', via: 'gguf', field: 'test.list.count', bytes: raw((g) => { g.kvs[2]!.value = (b) => b.i32(T.UINT8).u64(2n ** 40n); }) },
  { name: 'array count × element size beyond the file', via: 'gguf', field: 'test.list.count', bytes: raw((g) => { g.kvs[2]!.value = (b) => b.i32(T.UINT64).u64(100000n); }) },
  { name: 'string array element longer than the file', via: 'gguf', field: 'test.list[1]', bytes: raw((g) => { g.kvs[2]!.value = (b) => b.i32(T.STRING).u64(2n).str('ok').str('x', 2n ** 50n); }) },
  { name: 'string value length 2^63', via: 'gguf', field: 'general.name', bytes: raw((g) => { g.kvs[1]!.value = (b) => b.str('x', 2n ** 63n); }) },
  { name: 'bool value 2', via: 'gguf', field: 'general.name', bytes: raw((g) => { g.kvs[1]! = { key: 'general.name', type: T.BOOL, value: (b) => b.u8(2) }; }) },
  { name: 'general.alignment of type UINT64', via: 'gguf', field: 'general.alignment', bytes: raw((g) => { g.kvs.push({ key: 'general.alignment', type: T.UINT64, value: (b) => b.u64(32n) }); }) },
  { name: 'general.alignment 0', via: 'gguf', field: 'general.alignment', bytes: raw((g) => { g.kvs.push({ key: 'general.alignment', type: T.UINT32, value: (b) => b.u32(0) }); }) },
  { name: 'general.alignment 48', via: 'gguf', field: 'general.alignment', bytes: raw((g) => { g.kvs.push({ key: 'general.alignment', type: T.UINT32, value: (b) => b.u32(48) }); }) },
  { name: 'general.alignment 2^21', via: 'gguf', field: 'general.alignment', bytes: raw((g) => { g.kvs.push({ key: 'general.alignment', type: T.UINT32, value: (b) => b.u32(1 << 21) }); }) },
  // tensor infos (16–23)
  { name: 'tensor name of 64 bytes', via: 'gguf', field: 'tensor_infos[0].name', bytes: raw((g) => { g.tensors[0]!.name = 'n'.repeat(64); }) },
  { name: 'duplicate tensor name', via: 'gguf', field: 'tensor_infos[1].name', bytes: raw((g) => { g.tensors[1]!.name = 'a'; }) },
  { name: 'empty tensor name', via: 'gguf', field: 'tensor_infos[0].name', bytes: raw((g) => { g.tensors[0]!.name = ''; }) },
  { name: 'n_dims 5', via: 'gguf', field: 'tensor_infos[0].n_dims', bytes: raw((g) => { g.tensors[0]!.ne = [1n, 1n, 1n, 1n, 4n]; }) },
  { name: 'n_dims 0', via: 'gguf', field: 'tensor_infos[0].n_dims', bytes: raw((g) => { g.tensors[0]!.nDims = 0; g.tensors[0]!.ne = []; }) },
  { name: 'negative ne', via: 'gguf', field: 'tensor_infos[1].ne[0]', bytes: raw((g) => { g.tensors[1]!.ne = [-8n]; }) },
  { name: 'zero ne', via: 'gguf', field: 'tensor_infos[1].ne[1]', bytes: raw((g) => { g.tensors[1]!.ne = [8n, 0n]; }) },
  { name: 'ne product overflows 2^53', via: 'gguf', field: 'tensor_infos[0].ne', bytes: raw((g) => { g.tensors[0]!.ne = [2n ** 32n, 2n ** 32n]; }) },
  { name: 'ne above 2^53', via: 'gguf', field: 'tensor_infos[0].ne[0]', bytes: raw((g) => { g.tensors[0]!.ne = [2n ** 60n]; }) },
  { name: 'byte size above 2^53 (F32 × 2^52 elements)', via: 'gguf', field: /tensor_infos\[0\]/, bytes: raw((g) => { g.tensors[0]!.ne = [2n ** 26n, 2n ** 26n]; }) },
  { name: 'unsupported ggml type Q4_0', via: 'gguf', code: 'UNSUPPORTED', field: 'tensor_infos[0].type', bytes: raw((g) => { g.tensors[0]!.type = 2; }) },
  { name: 'unknown ggml type 1000', via: 'gguf', field: 'tensor_infos[1].type', bytes: raw((g) => { g.tensors[1]!.type = 1000; }) },
  { name: 'negative ggml type', via: 'gguf', field: 'tensor_infos[0].type', bytes: raw((g) => { g.tensors[0]!.type = -3; }) },
  { name: 'TQ2_0 ne[0] not a multiple of 256', via: 'gguf', field: 'tensor_infos[0].ne[0]', bytes: raw((g) => { g.tensors[0] = { name: 'a', ne: [100n, 2n], type: 35, offset: 0n }; }) },
  { name: 'I2_S ne[0] not a multiple of 128', via: 'gguf', field: 'tensor_infos[0].ne[0]', bytes: raw((g) => { g.tensors[0] = { name: 'a', ne: [64n, 2n], type: 36, offset: 0n }; }) },
  { name: 'offset with a gap', via: 'gguf', field: 'tensor_infos[1].offset', bytes: raw((g) => { g.tensors[1]!.offset = 64n; }) },
  { name: 'overlapping offsets', via: 'gguf', field: 'tensor_infos[1].offset', bytes: raw((g) => { g.tensors[1]!.offset = 0n; }) },
  { name: 'offsets out of order', via: 'gguf', field: 'tensor_infos[0].offset', bytes: raw((g) => { g.tensors[0]!.offset = 32n; g.tensors[1]!.offset = 0n; }) },
  { name: 'offset 2^64−1', via: 'gguf', field: 'tensor_infos[0].offset', bytes: raw((g) => { g.tensors[0]!.offset = 2n ** 64n - 1n; }) },
  { name: 'unaligned offset', via: 'gguf', field: 'tensor_infos[1].offset', bytes: raw((g) => { g.tensors[1]!.offset = 16n; }) },
  // data section (24–27)
  { name: 'data section past the end of the file', via: 'gguf', field: /^(data|tensor_infos\[0\]\.offset)$/, bytes: raw((g) => { g.dataBytes = 0; }) },
  { name: 'tensor data runs past the end of the file', via: 'gguf', field: 'tensor_infos[1].offset', bytes: raw((g) => { g.dataBytes = 40; }) },
  { name: 'trailing bytes after the tensor data', via: 'gguf', field: 'file', bytes: raw((g) => { g.dataBytes = 200; }) },
  { name: 'file cut inside the tensor infos', via: 'gguf', field: /^(tensor_infos|n_kv)/, bytes: () => valid().subarray(0, 150) },
  { name: 'file cut inside a KV value', via: 'gguf', field: /^(test\.list|general|kv|n_kv)/, bytes: () => valid().subarray(0, 90) },
  { name: 'tensors above the memory budget', via: 'gguf', code: 'BUDGET_EXCEEDED', field: 'memoryBudgetBytes', bytes: valid, options: { memoryBudgetBytes: 40 } },
  // model level (12–14, 40)
  { name: 'general.architecture missing', via: 'model', field: 'general.architecture', bytes: withMeta((m) => m.delete('general.architecture')) },
  { name: 'general.architecture llama', via: 'model', code: 'UNSUPPORTED', field: 'general.architecture', bytes: withMeta((m) => m.set('general.architecture', gv.str('llama'))) },
  { name: 'general.architecture not a string', via: 'model', field: 'general.architecture', bytes: withMeta((m) => m.set('general.architecture', gv.u32(1))) },
  { name: 'block_count 0', via: 'model', field: `${P}block_count`, bytes: withMeta((m) => m.set(`${P}block_count`, gv.u32(0))) },
  { name: 'block_count 100000', via: 'model', field: `${P}block_count`, bytes: withMeta((m) => m.set(`${P}block_count`, gv.u32(100000))) },
  { name: 'block_count UINT64 2^60', via: 'model', field: `${P}block_count`, bytes: withMeta((m) => m.set(`${P}block_count`, gv.u64(2n ** 60n))) },
  { name: 'block_count a string', via: 'model', field: `${P}block_count`, bytes: withMeta((m) => m.set(`${P}block_count`, gv.str('2'))) },
  { name: 'head_count 0', via: 'model', field: `${P}attention.head_count`, bytes: withMeta((m) => m.set(`${P}attention.head_count`, gv.u32(0))) },
  { name: 'hidden not divisible by heads', via: 'model', field: `${P}attention.head_count`, bytes: withMeta((m) => m.set(`${P}attention.head_count`, gv.u32(3))) },
  { name: 'heads not a multiple of KV heads', via: 'model', field: `${P}attention.head_count_kv`, bytes: withMeta((m) => { m.set(`${P}attention.head_count`, gv.u32(4)); m.set(`${P}attention.head_count_kv`, gv.u32(3)); }) },
  { name: 'vocab_size differs from the token count', via: 'model', field: /tokenizer\.ggml\.tokens|token_embd/, bytes: withMeta((m) => m.set(`${P}vocab_size`, gv.u32(300))) },
  { name: 'embedding_length missing', via: 'model', field: `${P}embedding_length`, bytes: withMeta((m) => m.delete(`${P}embedding_length`)) },
  { name: 'context_length 0', via: 'model', field: `${P}context_length`, bytes: withMeta((m) => m.set(`${P}context_length`, gv.u32(0))) },
  { name: 'rms epsilon negative', via: 'model', field: `${P}attention.layer_norm_rms_epsilon`, bytes: withMeta((m) => m.set(`${P}attention.layer_norm_rms_epsilon`, gv.f32(-1))) },
  { name: 'rms epsilon NaN', via: 'model', field: `${P}attention.layer_norm_rms_epsilon`, bytes: withMeta((m) => m.set(`${P}attention.layer_norm_rms_epsilon`, gv.f32(NaN))) },
  { name: 'rope dimension above head dim', via: 'model', field: `${P}rope.dimension_count`, bytes: withMeta((m) => m.set(`${P}rope.dimension_count`, gv.u32(65))) },
  { name: 'tokenizer.ggml.scores declared UINT8 (PR #26690)', via: 'model', field: 'tokenizer.ggml.scores', bytes: withMeta((m) => m.set('tokenizer.ggml.scores', { type: 'ARRAY', elementType: 'UINT8', value: new Uint8Array(260) })) },
  { name: 'token_type declared FLOAT32', via: 'model', field: 'tokenizer.ggml.token_type', bytes: withMeta((m) => m.set('tokenizer.ggml.token_type', gv.f32s(new Float32Array(260)))) },
  { name: 'token_type shorter than the tokens', via: 'model', field: 'tokenizer.ggml.token_type', bytes: withMeta((m) => m.set('tokenizer.ggml.token_type', gv.i32s(new Int32Array(10).fill(1)))) },
  { name: 'tokens missing', via: 'model', field: 'tokenizer.ggml.tokens', bytes: withMeta((m) => m.delete('tokenizer.ggml.tokens')) },
  { name: 'byte token <0xZZ> (PR #25969)', via: 'model', field: 'tokenizer.ggml.tokens[5]', bytes: withMeta((m) => { const t = new Int32Array(260).fill(1); t[5] = 6; m.set('tokenizer.ggml.token_type', gv.i32s(t)); }) },
  { name: 'BOS id beyond the vocabulary', via: 'model', field: 'tokenizer.ggml.bos_token_id', bytes: withMeta((m) => m.set('tokenizer.ggml.bos_token_id', gv.u32(260))) },
  { name: 'merge without a space', via: 'model', field: 'tokenizer.ggml.merges[1]', bytes: withMeta((m) => m.set('tokenizer.ggml.merges', gv.strs(['b1 b2', 'b3b4']))) },
  { name: 'tokenizer model bert', via: 'model', field: 'tokenizer.ggml.model', bytes: withMeta((m) => m.set('tokenizer.ggml.model', gv.str('bert'))) },
  { name: 'required tensor blk.0.attn_q missing', via: 'model', field: 'blk.0.attn_q.weight', bytes: withTensors((t) => t.filter((x) => x.name !== 'blk.0.attn_q.weight')) },
  { name: 'attn_k of the wrong shape', via: 'model', field: 'blk.0.attn_k.weight', bytes: withTensors((t) => t.map((x) => (x.name === 'blk.0.attn_k.weight' ? { ...x, ne: [128, 128], data: new Uint8Array(128 * 128 / 4 + 32) } : x))) },
  { name: 'output_norm of the wrong length', via: 'model', field: 'output_norm.weight', bytes: withTensors((t) => t.map((x) => (x.name === 'output_norm.weight' ? { ...x, ne: [64], data: new Uint8Array(256) } : x))) },
  { name: 'projection stored as F32', via: 'model', code: 'UNSUPPORTED', field: 'blk.0.ffn_up.weight', bytes: withTensors((t) => t.map((x) => (x.name === 'blk.0.ffn_up.weight' ? { ...x, type: 'F32', data: new Uint8Array(128 * 256 * 4) } : x))) },
  { name: 'norm stored as I2_S', via: 'model', code: 'UNSUPPORTED', field: 'blk.0.attn_norm.weight', bytes: withTensors((t) => t.map((x) => (x.name === 'blk.0.attn_norm.weight' ? { ...x, type: 'I2_S', data: new Uint8Array(128 / 4 + 32) } : x))) },
  { name: '.scale tensor under arch bitnet-b1.58', via: 'model', field: 'blk.0.attn_q.scale', bytes: withTensors((t) => [...t, { name: 'blk.0.attn_q.scale', ne: [1], type: 'F32', data: new Uint8Array(4) }]) },
  { name: 'I2_S scale NaN (found at read)', via: 'model+read', field: 'blk.0.attn_v.weight.scale', bytes: withTensors((t) => t.map((x) => {
    if (x.name !== 'blk.0.attn_v.weight') return x;
    const data = x.data.slice();
    new DataView(data.buffer).setFloat32((64 * 128) / 4, NaN, true);
    return { ...x, data };
  })) },
];

// --- safetensors (28–39) ---
const stValid = () => writeSafetensors([
  { name: 'a', dtype: 'F32', shape: [2, 2], data: new Uint8Array(16) },
  { name: 'b', dtype: 'U8', shape: [8], data: new Uint8Array(8) },
]);
/** A safetensors file with this header text and `dataBytes` zero bytes of data. */
const st = (header: string, dataBytes = 24) => () => {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
};
const A = '"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}';
const stCases: Case[] = [
  { name: 'empty file', via: 'safetensors', field: 'header_size', bytes: () => new Uint8Array(0) },
  { name: '7 bytes', via: 'safetensors', field: 'header_size', bytes: () => stValid().subarray(0, 7) },
  { name: 'header size above 100 MB', via: 'safetensors', field: 'header_size', bytes: () => setU32At(stValid(), 0, 200_000_000) },
  { name: 'header size past the end', via: 'safetensors', field: 'header_size', bytes: () => setU32At(stValid(), 0, 5000) },
  { name: 'header not UTF-8', via: 'safetensors', field: 'header', bytes: () => { const b = st(`{${A}}`, 16)(); b[10] = 0xff; return b; } },
  { name: 'header not JSON', via: 'safetensors', field: 'header', bytes: st('{"a": nope}') },
  { name: 'header a JSON array', via: 'safetensors', field: 'header', bytes: st('[1,2,3]') },
  { name: 'duplicate tensor key', via: 'safetensors', field: 'header', bytes: st(`{${A},${A}}`, 32) },
  { name: 'duplicate dtype key inside an entry', via: 'safetensors', field: 'header', bytes: st('{"a":{"dtype":"F32","dtype":"U8","shape":[4],"data_offsets":[0,4]}}', 4) },
  { name: 'unknown dtype', via: 'safetensors', field: 'a.dtype', bytes: st('{"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,4]}}', 4) },
  { name: 'negative shape', via: 'safetensors', field: 'a.shape', bytes: st('{"a":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}}', 4) },
  { name: 'non-integer shape', via: 'safetensors', field: 'a.shape', bytes: st('{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,4]}}', 4) },
  { name: 'shape product overflow', via: 'safetensors', field: 'a.shape', bytes: st('{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', 4) },
  { name: 'shape not an array', via: 'safetensors', field: 'a.shape', bytes: st('{"a":{"dtype":"U8","shape":4,"data_offsets":[0,4]}}', 4) },
  { name: 'F4 with an odd element count', via: 'safetensors', field: 'a.shape', bytes: st('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', 2) },
  { name: 'data_offsets of length 3', via: 'safetensors', field: 'a.data_offsets', bytes: st('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,8]}}', 4) },
  { name: 'end before begin', via: 'safetensors', field: 'a.data_offsets', bytes: st('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4) },
  { name: 'size not numel × itemsize', via: 'safetensors', field: 'a.data_offsets', bytes: st('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,4]}}', 4) },
  { name: 'gap between tensors', via: 'safetensors', field: 'b.data_offsets', bytes: st(`{${A},"b":{"dtype":"U8","shape":[4],"data_offsets":[20,24]}}`, 24) },
  { name: 'overlapping tensors', via: 'safetensors', field: 'b.data_offsets', bytes: st(`{${A},"b":{"dtype":"U8","shape":[4],"data_offsets":[12,16]}}`, 16) },
  { name: 'not starting at 0', via: 'safetensors', field: 'a.data_offsets', bytes: st('{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}', 8) },
  { name: 'trailing data after the last tensor', via: 'safetensors', field: 'data', bytes: st(`{${A}}`, 20) },
  { name: 'data truncated', via: 'safetensors', field: 'data', bytes: st(`{${A}}`, 10) },
  { name: '__metadata__ with a number value', via: 'safetensors', field: '__metadata__.x', bytes: st('{"__metadata__":{"x":1}}', 0) },
  { name: 'entry not an object', via: 'safetensors', field: 'a', bytes: st('{"a":[1]}', 0) },
  { name: 'unknown field in an entry', via: 'safetensors', field: 'a.extra', bytes: st('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"extra":1}}', 4) },
  { name: 'nesting depth bomb', via: 'safetensors', field: 'header', bytes: st(`{"__metadata__":${'['.repeat(5000)}${']'.repeat(5000)}}`, 0) },
  { name: 'tensors above the memory budget', via: 'safetensors', code: 'BUDGET_EXCEEDED', field: 'memoryBudgetBytes', bytes: stValid, options: { memoryBudgetBytes: 10 } },
];

async function outcome(c: Case): Promise<unknown> {
  const bytes = c.bytes();
  try {
    if (c.via === 'gguf') await openGguf(bytes, c.options);
    else if (c.via === 'safetensors') await openSafetensors(bytes, c.options);
    else {
      const m = await openModel(bytes, c.options);
      if (c.via === 'model+read') for (const t of m.tensors) if (t.type === 'I2_S') await m.readTernary(t.name);
    }
    return undefined;
  } catch (e) {
    return e;
  }
}

describe('malformed model files are rejected with a typed error naming the field', () => {
  it('the unmutated bases are valid', async () => {
    await expect(openGguf(valid())).resolves.toBeDefined();
    await expect(openModel(tiny.bytes)).resolves.toBeDefined();
    await expect(openSafetensors(stValid())).resolves.toBeDefined();
    await expect(openSafetensors(st(`{${A}}`, 16)())).resolves.toBeDefined();
    expect(new RawBytes().u32(1).length).toBe(4);
  });

  for (const c of [...ggufCases, ...stCases]) {
    it(`${c.via === 'safetensors' ? 'safetensors' : 'GGUF'}: ${c.name}`, async () => {
      const e = await outcome(c);
      expect(TrineError.is(e), `${c.name}: ${String(e)}`).toBe(true);
      const err = e as TrineError;
      expect(err.code, err.message).toBe(c.code ?? 'INVALID_MODEL_FILE');
      if (typeof c.field === 'string') expect(err.field, err.message).toBe(c.field);
      else expect(err.field, err.message).toMatch(c.field);
      if (err.code === 'INVALID_MODEL_FILE') expect(err.offset, err.message).toBeDefined();
    });
  }

  it('counts', () => {
    const names = new Set(ggufCases.map((c) => c.name));
    const stNames = new Set(stCases.map((c) => c.name));
    expect(names.size).toBe(ggufCases.length);
    expect(stNames.size).toBe(stCases.length);
    console.log(`[malformed corpus] GGUF cases: ${ggufCases.length}, safetensors cases: ${stCases.length}`);
    expect(ggufCases.length).toBeGreaterThanOrEqual(45);
    expect(stCases.length).toBeGreaterThanOrEqual(15);
  });
});
