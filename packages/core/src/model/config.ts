import type { ActQuantScheme, GateActivation, HostTensor, TernaryTensor } from '../kernels/spec.js';
import type { TokenizerSpec } from '../tokenizer/spec.js';

/** GGUF `general.architecture` values Trine runs (../shared/notes/model.md). */
export type BitNetArch = 'bitnet-b1.58' | 'bitnet-25' | 'bitnet';

/** Hyper-parameters of a BitNet b1.58 model, whatever file it came from. */
export interface BitNetConfig {
  readonly arch: BitNetArch;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly context: number;
  readonly ropeTheta: number;
  readonly ropeDim: number;
  readonly rmsEps: number;
  /** relu2 for bitnet-b1.58 / bitnet-25 (2B4T); silu for llama.cpp's `bitnet`. */
  readonly activation: GateActivation;
  /** per_token for I2_S and HF checkpoints (bitnet.cpp); per_block256 for TQ1_0/TQ2_0 (llama.cpp). */
  readonly actQuant: ActQuantScheme;
}

/**
 * A model file opened for loading (GGUF or Hugging Face directory). Tensors use GGUF names
 * (`token_embd.weight`, `blk.N.attn_q.weight`, ...); the HF loader maps its names onto them.
 * Tensor data is read on demand, one tensor at a time, so loading never holds a second copy of the file.
 */
export interface ModelSource {
  readonly path: string;
  readonly format: 'gguf' | 'hf';
  readonly config: BitNetConfig;
  readonly tokenizer: TokenizerSpec;
  /** Display name (general.name or the directory name). */
  readonly name: string;
  /** Bytes the weights occupy in the file (for memory planning and `trine info`). */
  readonly weightBytes: number;
  /** Tensor names present, with their storage types (for `trine info`). */
  readonly tensors: readonly { name: string; type: string; shape: readonly number[]; bytes: number }[];
  hasTensor(name: string): boolean;
  /** A norm or other f32 vector (F16/BF16 widened to f32). */
  readF32(name: string): Promise<HostTensor<'f32'>>;
  /**
   * The embedding / output matrix [vocab, hidden], F16 kept as f16, BF16 and F32 as f32. `memory(bytes)`, when
   * given, supplies the buffer F16 bytes are read into (the backend's `hostMemory`); a source may ignore it.
   */
  readMatrix(name: string, memory?: (bytes: number) => Uint8Array): Promise<HostTensor<'f16' | 'f32'>>;
  /** A projection as a ternary matrix [out, in], with any per-tensor `.scale` tensor folded into `scales`. */
  readTernary(name: string): Promise<TernaryTensor>;
  close(): Promise<void>;
}
