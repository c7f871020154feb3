/**
 * `trine convert`: a Hugging Face BitNet checkpoint (packed uint8 projections + weight_scale, as
 * microsoft/bitnet-b1.58-2B-4T publishes it) — or any model Trine opens — to a GGUF in the layout bitnet.cpp's and
 * llama.cpp's converters write (core's random-model layout: same keys, tensor order and tokenizer keys), with the
 * tokenizer and chat template. Written tensor by tensor to a temporary name, renamed when complete.
 */
import { rename, unlink } from 'node:fs/promises';
import {
  type BitNetArch, type ModelSource, type TernaryTensor, TrineError, decodeTernaryCodes, encodeTernary, floatTensorBytes,
  openModel, randomBitnetLayout, ternaryGgufBytes, writeGgufFileStreaming, type GgufWriteTensorInfo,
} from '@trine/core';
import { writeError } from './cache.js';

export const CONVERT_TYPES = ['i2_s', 'tq2_0', 'tq1_0'] as const;
export type ConvertType = (typeof CONVERT_TYPES)[number];

const GGUF_TYPE = { i2_s: 'I2_S', tq2_0: 'TQ2_0', tq1_0: 'TQ1_0' } as const;
/** llama.cpp's LLAMA_FTYPE for `general.file_type` (bitnet.cpp: MOSTLY_I2_S = 40). */
const FILE_TYPE = { i2_s: 40, tq2_0: 37, tq1_0: 36 } as const;
/** Input columns a block of each type spans: every projection's input width must be a multiple. */
const BLOCK = { i2_s: 128, tq2_0: 256, tq1_0: 256 } as const;

export interface ConvertResult {
  output: string;
  arch: BitNetArch;
  type: ConvertType;
  tensors: number;
  /** Notes for the user (e.g. which engines load the file). */
  notes: string[];
}

/**
 * The architecture name to write. I2_S is bitnet.cpp's: `bitnet-b1.58` (ReLU², 2B4T). llama.cpp's TQ types go
 * with `bitnet`, whose graph uses SiLU: a ReLU² checkpoint written as `bitnet` would compute another function, so
 * it keeps `bitnet-b1.58` (loaded by Trine and bitnet.cpp, not by mainline llama.cpp) and says so.
 */
function archFor(source: ModelSource, type: ConvertType, notes: string[]): BitNetArch {
  const relu2 = source.config.activation === 'relu2';
  if (!relu2) return 'bitnet';
  if (type !== 'i2_s') notes.push(`${GGUF_TYPE[type]} written with arch bitnet-b1.58 (ReLU² FFN): Trine and bitnet.cpp load it; mainline llama.cpp's 'bitnet' graph uses SiLU and would compute a different model`);
  return 'bitnet-b1.58';
}

/** The same codes in `type`, with one scale (I2_S) or one per 256 weights (TQ types). */
function reencode(t: TernaryTensor, type: ConvertType): Uint8Array {
  const codes = decodeTernaryCodes(t);
  const n = t.rows * t.cols;
  let scales: Float32Array;
  if (t.granularity === 'tensor') {
    scales = type === 'i2_s' ? Float32Array.of(t.scales[0]!) : new Float32Array(n / 256).fill(t.scales[0]!);
  } else if (type === 'i2_s') {
    const s = t.scales[0]!;
    if (!t.scales.every((x) => x === s)) throw new TrineError('UNSUPPORTED', `${t.name}: per-block scales cannot be written as I2_S's one scale per tensor`, { field: t.name });
    scales = Float32Array.of(s);
  } else {
    scales = t.scales;
  }
  return ternaryGgufBytes(encodeTernary(codes, t.rows, t.cols, type, scales, t.name));
}

async function* tensorBytes(source: ModelSource, t: GgufWriteTensorInfo, type: ConvertType): AsyncIterable<Uint8Array> {
  if (t.type === GGUF_TYPE[type]) {
    const tt = await source.readTernary(t.name);
    if (tt.cols !== t.ne[0] || tt.rows !== t.ne[1]) {
      throw new TrineError('INVALID_MODEL_FILE', `${t.name} is ${tt.rows} × ${tt.cols}, the config says ${t.ne[1]} × ${t.ne[0]}`, { field: t.name });
    }
    yield reencode(tt, type);
  } else if (t.ne.length === 2) {
    const m = await source.readMatrix(t.name);
    yield m.dtype === 'f16' ? new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength) : floatTensorBytes(m.data as Float32Array, 'F16');
  } else {
    const v = await source.readF32(t.name);
    yield floatTensorBytes(v.data, 'F32');
  }
}

export async function convertToGguf(input: string, type: ConvertType, output: string): Promise<ConvertResult> {
  if (!(CONVERT_TYPES as readonly string[]).includes(type)) throw new TrineError('INVALID_ARGUMENT', `--type must be one of ${CONVERT_TYPES.join(', ')}, got '${type}'`, { field: '--type' });
  const source = await openModel(input);
  const tmp = `${output}.${process.pid}.incomplete`;
  try {
    const c = source.config;
    for (const [what, cols] of [['hidden size', c.hidden], ['FFN size', c.ffn]] as const) {
      if (cols % BLOCK[type] !== 0) throw new TrineError('UNSUPPORTED', `${GGUF_TYPE[type]} needs every projection's input width to be a multiple of ${BLOCK[type]}; the ${what} is ${cols}`, { field: '--type' });
    }
    const notes: string[] = [];
    const arch = archFor(source, type, notes);
    const layout = randomBitnetLayout({
      arch, hidden: c.hidden, layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, ffn: c.ffn, context: c.context,
      ropeDim: c.ropeDim, ropeTheta: c.ropeTheta, rmsEps: c.rmsEps, ternary: GGUF_TYPE[type], embedding: 'F16',
      tokenizer: source.tokenizer, name: source.name, fileType: FILE_TYPE[type],
    });
    if (layout.vocab !== c.vocab) {
      throw new TrineError('UNSUPPORTED', `the tokenizer has ${layout.vocab} tokens but the embedding ${c.vocab} rows; GGUF readers take the vocabulary from the token list`, { field: 'vocab_size' });
    }
    const tensors: GgufWriteTensorInfo[] = [...layout.tensors];
    if (source.hasTensor('output.weight')) tensors.push({ name: 'output.weight', ne: [c.hidden, c.vocab], type: 'F16' });
    try {
      await writeGgufFileStreaming(tmp, layout.metadata, tensors, (t) => tensorBytes(source, t, type));
      await rename(tmp, output);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw TrineError.is(e) ? e : writeError(output, e);
    }
    return { output, arch, type, tensors: tensors.length, notes };
  } finally {
    await source.close();
  }
}
