import path from 'node:path';
import { TrineError, invalidModelFile } from '../../errors/index.js';
import type { HostTensor, TernaryTensor } from '../../kernels/spec.js';
import type { BitNetConfig, ModelSource } from '../../model/config.js';
import { encodeTernary } from '../../quant/ternary.js';
import { FileByteSource } from '../byte-source.js';
import { floatBytesToF32, floatHostTensor } from '../float-tensors.js';
import type { OpenModelOptions } from '../gguf/model.js';
import { type Json, isJsonObject, parseStrictJson } from '../json-strict.js';
import { MODEL_LIMITS, type TensorEntry, checkConfig, checkTensors, checkTokenizer } from '../model-check.js';
import { type SafetensorsFile, type SafetensorsTensorInfo, openSafetensors } from '../safetensors/index.js';
import { hfToGgufName, weightScaleName } from './names.js';
import { absmeanTernary, hfPackedToI2S, unpackHfTernary } from './packing.js';
import { tokenizerSpecFromHfJson } from './tokenizer.js';

const JSON_CAPS: Record<string, number> = {
  'config.json': 1 << 20,
  'generation_config.json': 1 << 20,
  'tokenizer_config.json': 16 << 20,
  'tokenizer.json': 64 << 20,
  'model.safetensors.index.json': 16 << 20,
};

async function readJson(dir: string, file: string, required: boolean): Promise<Json | undefined> {
  const fs = await import('node:fs/promises');
  const p = path.join(dir, file);
  let size: number;
  try {
    size = (await fs.stat(p)).size;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
    if (required) throw new TrineError('NOT_FOUND', `${p} is missing (a Hugging Face model directory needs it)`, { field: file, cause: e });
    return undefined;
  }
  const cap = JSON_CAPS[file] ?? 1 << 20;
  if (size > cap) throw invalidModelFile(file, 0, `${size} bytes is above the ${cap}-byte cap`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await fs.readFile(p));
  } catch {
    throw invalidModelFile(file, 0, 'not valid UTF-8');
  }
  return parseStrictJson(text, file);
}

function int(cfg: Record<string, Json>, key: string, min: number, max: number, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (v === undefined || v === null) throw invalidModelFile(`config.json.${key}`, 0, 'required key is missing');
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidModelFile(`config.json.${key}`, 0, `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
  return v;
}

function num(cfg: Record<string, Json>, key: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidModelFile(`config.json.${key}`, 0, `${JSON.stringify(v)} is not a number`);
  return v;
}

/** config.json of a BitNet checkpoint (model_type `bitnet`) → BitNetConfig. */
export function bitnetConfigFromHf(cfgJson: Json): BitNetConfig {
  if (!isJsonObject(cfgJson)) throw invalidModelFile('config.json', 0, 'not a JSON object');
  const cfg = cfgJson;
  if (cfg.model_type !== 'bitnet') throw new TrineError('UNSUPPORTED', `config.json model_type ${JSON.stringify(cfg.model_type)} is not bitnet`, { field: 'config.json.model_type' });
  const act = cfg.hidden_act ?? 'relu2';
  if (act !== 'relu2' && act !== 'silu') throw new TrineError('UNSUPPORTED', `hidden_act ${JSON.stringify(act)} (relu2, silu)`, { field: 'config.json.hidden_act' });
  const hidden = int(cfg, 'hidden_size', 1, MODEL_LIMITS.maxHidden);
  const heads = int(cfg, 'num_attention_heads', 1, MODEL_LIMITS.maxHeads);
  const headDim = Math.floor(hidden / heads);
  if (cfg.head_dim !== undefined && cfg.head_dim !== null && cfg.head_dim !== headDim) {
    throw invalidModelFile('config.json.head_dim', 0, `${JSON.stringify(cfg.head_dim)} differs from hidden_size / num_attention_heads = ${headDim}`);
  }
  const c: BitNetConfig = {
    arch: act === 'relu2' ? 'bitnet-b1.58' : 'bitnet',
    hidden,
    layers: int(cfg, 'num_hidden_layers', 1, MODEL_LIMITS.maxLayers),
    heads,
    kvHeads: int(cfg, 'num_key_value_heads', 1, MODEL_LIMITS.maxHeads, heads),
    headDim,
    ffn: int(cfg, 'intermediate_size', 1, MODEL_LIMITS.maxFfn),
    vocab: int(cfg, 'vocab_size', 1, MODEL_LIMITS.maxVocab),
    context: int(cfg, 'max_position_embeddings', 1, MODEL_LIMITS.maxContext),
    ropeTheta: num(cfg, 'rope_theta', 10000),
    ropeDim: headDim,
    rmsEps: num(cfg, 'rms_norm_eps', 1e-5),
    activation: act,
    actQuant: 'per_token',
  };
  checkConfig(c, 'config.json.');
  return c;
}

/** The projections (ternary in BitNet); float ones are master weights, quantized on load. */
const PROJECTION = /^blk\.\d+\.(attn_(q|k|v|output)|ffn_(gate|up|down))\.weight$/;

interface Located {
  file: SafetensorsFile;
  info: SafetensorsTensorInfo;
  hfName: string;
}

/** Open model.safetensors, or every shard listed in model.safetensors.index.json (names checked: no paths). */
async function openShards(dir: string, options: OpenModelOptions): Promise<SafetensorsFile[]> {
  const index = await readJson(dir, 'model.safetensors.index.json', false);
  if (index === undefined) return [await openSafetensors(await FileByteSource.open(path.join(dir, 'model.safetensors')), options)];
  if (!isJsonObject(index) || !isJsonObject(index.weight_map)) throw invalidModelFile('model.safetensors.index.json.weight_map', 0, 'missing weight_map');
  const files = new Set<string>();
  for (const [k, f] of Object.entries(index.weight_map)) {
    if (typeof f !== 'string' || !/^[\w.-]+\.safetensors$/.test(f) || f.startsWith('.')) {
      throw invalidModelFile(`model.safetensors.index.json.weight_map.${k}`, 0, `${JSON.stringify(f)} is not a plain .safetensors file name`);
    }
    files.add(f);
  }
  const out: SafetensorsFile[] = [];
  try {
    for (const f of files) out.push(await openSafetensors(await FileByteSource.open(path.join(dir, f)), options));
  } catch (e) {
    await Promise.all(out.map((s) => s.close()));
    throw e;
  }
  return out;
}

/** A Hugging Face BitNet directory (microsoft/bitnet-b1.58-2B-4T layout) as a ModelSource, validated up front. */
export async function hfModelSource(dir: string, options: OpenModelOptions = {}): Promise<ModelSource> {
  if (options.expectedSha256 !== undefined) {
    throw new TrineError('INVALID_ARGUMENT', 'expectedSha256 applies to a single GGUF file, not a directory', { field: 'expectedSha256' });
  }
  const cfgJson = (await readJson(dir, 'config.json', true))!;
  const config = bitnetConfigFromHf(cfgJson);
  const cfgRaw = cfgJson as Record<string, Json>;
  const tokenizer = tokenizerSpecFromHfJson(
    (await readJson(dir, 'tokenizer.json', true))!,
    await readJson(dir, 'tokenizer_config.json', false),
    await readJson(dir, 'generation_config.json', false),
  );
  checkTokenizer(tokenizer, config.vocab, 'tokenizer.json');
  const shards = await openShards(dir, options);
  try {
    const located = new Map<string, Located>();
    const scales = new Map<string, Located>();
    const entries = new Map<string, TensorEntry>();
    let total = 0;
    for (const file of shards) {
      for (const info of file.tensors) {
        total += info.byteSize;
        if (info.name.endsWith('.weight_scale')) {
          scales.set(info.name, { file, info, hfName: info.name });
          continue;
        }
        const g = hfToGgufName(info.name);
        if (!g) continue;
        if (located.has(g)) throw invalidModelFile(info.name, 0, 'tensor appears in more than one shard');
        located.set(g, { file, info, hfName: info.name });
        // ggml order: ne[0] is the input dimension. Packed uint8 projections [out/4, in] hold out rows.
        const packed = info.dtype === 'U8' && info.shape.length === 2;
        const ne = packed ? [info.shape[1]!, info.shape[0]! * 4] : [...info.shape].reverse();
        const master = PROJECTION.test(g) && ['F32', 'F16', 'BF16'].includes(info.dtype);
        entries.set(g, { name: g, type: packed ? 'U8_PACKED' : master ? 'FLOAT_MASTER' : info.dtype, ne, bytes: info.byteSize });
      }
    }
    if (options.memoryBudgetBytes !== undefined && total > options.memoryBudgetBytes) {
      throw new TrineError('BUDGET_EXCEEDED', `model tensors need ${total} bytes, above the memory budget of ${options.memoryBudgetBytes} bytes`, { field: 'memoryBudgetBytes' });
    }
    const tied = cfgRaw.tie_word_embeddings !== false;
    if (!tied && !entries.has('output.weight')) throw invalidModelFile('lm_head.weight', 0, 'required tensor is missing (tie_word_embeddings is false)');
    checkTensors(config, entries);
    // Every packed projection needs its weight_scale (one float).
    for (const [g, loc] of located) {
      if (entries.get(g)!.type !== 'U8_PACKED') continue;
      const s = scales.get(weightScaleName(loc.hfName));
      if (!s) throw invalidModelFile(weightScaleName(loc.hfName), 0, 'required tensor is missing');
      if (s.info.elements !== 1 || !['F32', 'F16', 'BF16'].includes(s.info.dtype)) {
        throw invalidModelFile(s.hfName, s.info.fileOffset, `must be one F32/F16/BF16 value, is ${s.info.dtype} [${s.info.shape.join(', ')}]`);
      }
    }

    const get = (name: string): Located => {
      const l = located.get(name);
      if (!l) throw new TrineError('NOT_FOUND', `tensor ${name} is not in ${dir}`, { field: name });
      return l;
    };
    const floatType = (l: Located) => {
      if (!['F32', 'F16', 'BF16'].includes(l.info.dtype)) throw new TrineError('UNSUPPORTED', `${l.hfName} is ${l.info.dtype}, not a float tensor`, { field: l.hfName });
      return l.info.dtype;
    };
    return {
      path: dir,
      format: 'hf',
      config,
      tokenizer,
      name: path.basename(path.resolve(dir)),
      weightBytes: total,
      tensors: [...entries.values()].map((e) => ({ name: e.name, type: e.type, shape: e.ne, bytes: e.bytes })),
      hasTensor: (name) => located.has(name),
      async readF32(name): Promise<HostTensor<'f32'>> {
        const l = get(name);
        return { dtype: 'f32', shape: [...l.info.shape], data: floatBytesToF32(floatType(l), await l.file.readTensor(l.info), l.info.elements) };
      },
      async readMatrix(name): Promise<HostTensor<'f16' | 'f32'>> {
        const l = get(name);
        return floatHostTensor(floatType(l), await l.file.readTensor(l.info), [...l.info.shape], true);
      },
      async readTernary(name): Promise<TernaryTensor> {
        const l = get(name);
        if (entries.get(name)!.type === 'FLOAT_MASTER') {
          const [rows, cols] = [l.info.shape[0]!, l.info.shape[1]!];
          const { codes, scale } = absmeanTernary(floatBytesToF32(l.info.dtype, await l.file.readTensor(l.info), l.info.elements));
          return encodeTernary(codes, rows, cols, cols % 128 === 0 ? 'i2_s' : 'codes', Float32Array.of(scale), name);
        }
        if (entries.get(name)!.type !== 'U8_PACKED') throw new TrineError('UNSUPPORTED', `${l.hfName} is not a packed ternary matrix`, { field: l.hfName });
        const rows = l.info.shape[0]! * 4;
        const cols = l.info.shape[1]!;
        const packed = await l.file.readTensor(l.info);
        const s = scales.get(weightScaleName(l.hfName))!;
        const ws = floatBytesToF32(s.info.dtype, await s.file.readTensor(s.info), 1)[0]!;
        // transformers divides the output by weight_scale: the weight scale proper is its reciprocal.
        const scale = Math.fround(1 / ws);
        if (!Number.isFinite(scale) || ws === 0) throw invalidModelFile(s.hfName, s.info.fileOffset, `weight_scale ${ws} has no finite reciprocal`);
        const scales1 = Float32Array.of(scale);
        // Transcode to I2_S where the layout allows (4× smaller than int8 codes); otherwise keep int8 codes.
        if (cols % 128 === 0) {
          const data = hfPackedToI2S(packed, rows, cols, l.hfName, l.info.fileOffset);
          return { name, rows, cols, format: 'i2_s', data, granularity: 'tensor', scales: scales1 };
        }
        return encodeTernary(unpackHfTernary(packed, rows, cols, l.hfName, l.info.fileOffset), rows, cols, 'codes', scales1, name);
      },
      close: async () => {
        await Promise.all(shards.map((s) => s.close()));
      },
    };
  } catch (e) {
    await Promise.all(shards.map((s) => s.close()));
    throw e;
  }
}
