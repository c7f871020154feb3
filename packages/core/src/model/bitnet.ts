/**
 * The BitNet b1.58 forward pass (HF modeling_bitnet.py, llama.cpp build_bitnet_158, laid out like llama2.c's run.c):
 * config → weights → run state; per layer attentionBlock then ffnBlock; output_norm; LM head on the rows asked for.
 */
import { TrineError, invalidArgument } from '../errors/index.js';
import { missingOps } from '../kernels/registry.js';
import type {
  ActQuantScheme,
  AttentionParams,
  Handles,
  HostTensor,
  KernelBackend,
  MatrixFormat,
  QuantizedActs,
  RopeParams,
} from '../kernels/spec.js';
import { checked } from '../kernels/validate.js';
import { f32ToF16 } from '../quant/f16.js';
import { attentionBlock } from './blocks/attention.js';
import type { BlockContext } from './blocks/context.js';
import { ffnBlock } from './blocks/ffn.js';
import type { BitNetConfig, ModelSource } from './config.js';
import type { BitNetWeights, LayerWeights, RunState, TraceHook } from './weights.js';

/**
 * When attention probabilities are rounded to f16 before they multiply V. Each engine does it differently, and
 * Trine follows the engine that defines the file's weight type: llama.cpp (TQ1_0/TQ2_0, per_block256) always;
 * bitnet.cpp (I2_S, per_token) only for chunks of a single token (its multi-token path multiplies f32 probabilities).
 * 'single-token' also covers batched decode chunks where every row is its slot's only token, so a sequence gets the
 * same numbers in a batched decode step as it would alone (the engine's continuous batching relies on this).
 */
export type RoundProbsPolicy = 'always' | 'single-token' | 'never';

export interface BitNetLoadOptions {
  /** Independent sequences (KV slots). */
  slots: number;
  /** Positions per slot (default and maximum: config.context). */
  context?: number;
  /** Rows per internal chunk; longer steps are split (default min(512, context), at least `slots`). */
  maxBatchTokens?: number;
  /**
   * LM head storage (default: the file's, f16 for bitnet.cpp / llama.cpp files). `q8` on a tied model (no
   * `output.weight`) stores the one shared matrix as q8: the embedding lookups read it too.
   */
  lmHeadFormat?: MatrixFormat;
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /** Default: 'always' for per_block256 models, 'single-token' for per_token models. */
  roundProbsF16?: RoundProbsPolicy;
  /** KV cache element type (default f16, as both engines). */
  kvDtype?: 'f16' | 'f32';
  /** Validate every kernel call (default true; cheap). */
  validate?: boolean;
}

export interface ForwardStep {
  readonly tokens: Int32Array;
  readonly positions: Int32Array;
  readonly slots: Int32Array;
  readonly logitsFor: Int32Array;
  /**
   * Every row continues its slot as a decode step would (the engine verifying drafted tokens): attention rounds as
   * in a decode step even where a slot has several rows, so each row gets what one-token steps would give it.
   */
  readonly decode?: boolean;
}

/** True when no slot appears twice in slots[start, end): a decode chunk (one token per sequence). */
function oneTokenPerSlot(slots: Int32Array, start: number, end: number): boolean {
  if (end - start === 1) return true;
  const seen = new Set<number>();
  for (let i = start; i < end; i++) {
    if (seen.has(slots[i]!)) return false;
    seen.add(slots[i]!);
  }
  return true;
}

export function defaultRoundProbs(scheme: ActQuantScheme): RoundProbsPolicy {
  return scheme === 'per_block256' ? 'always' : 'single-token';
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}

function wrongShape(name: string, want: string, got: string): TrineError {
  return new TrineError('INVALID_MODEL_FILE', `${name}: expected ${want}, got ${got}`, { field: name });
}

/** Hyper-parameters the graph relies on; a file's loader validated the ranges, this checks they fit together. */
function checkConfig(c: BitNetConfig): void {
  for (const k of ['hidden', 'layers', 'heads', 'kvHeads', 'headDim', 'ffn', 'vocab', 'context', 'ropeDim'] as const)
    if (!isPositiveInt(c[k])) throw new TrineError('INVALID_MODEL_FILE', `config.${k} must be a positive integer, got ${c[k]}`, { field: `config.${k}` });
  if (c.heads % c.kvHeads !== 0)
    throw new TrineError('INVALID_MODEL_FILE', `config.heads ${c.heads} is not a multiple of kvHeads ${c.kvHeads}`, { field: 'config.heads' });
  if (c.ropeDim % 2 !== 0 || c.ropeDim > c.headDim)
    throw new TrineError('INVALID_MODEL_FILE', `config.ropeDim ${c.ropeDim} must be even and ≤ headDim ${c.headDim}`, { field: 'config.ropeDim' });
  if (c.actQuant === 'per_block256')
    for (const [k, v] of [['hidden', c.hidden], ['ffn', c.ffn], ['heads·headDim', c.heads * c.headDim]] as const)
      if (v % 256 !== 0)
        throw new TrineError('UNSUPPORTED', `per_block256 activations need ${k} (${v}) to be a multiple of 256`, { field: `config.${k}` });
}

/** The format a file's float matrix is uploaded in when none is asked for (readMatrix keeps F16, widens the rest). */
function fileMatrixFormat(source: ModelSource, name: string): MatrixFormat {
  return source.tensors.find((t) => t.name === name)?.type === 'F16' ? 'f16' : 'f32';
}

export class BitNetModel<H extends Handles> {
  /** Called after each named intermediate (see RunState); set it to dump tensors. */
  trace: TraceHook<H> | undefined = undefined;
  readonly context: number;
  readonly slots: number;
  readonly maxBatchTokens: number;
  readonly roundProbsF16: RoundProbsPolicy;
  readonly kvDtype: 'f16' | 'f32';
  private readonly be: KernelBackend<H>;
  private disposed = false;

  private constructor(
    readonly config: BitNetConfig,
    readonly backend: KernelBackend<H>,
    be: KernelBackend<H>,
    readonly weights: BitNetWeights<H>,
    readonly state: RunState<H>,
    readonly kv: H['kv'],
    opts: { context: number; slots: number; maxBatchTokens: number; roundProbsF16: RoundProbsPolicy; kvDtype: 'f16' | 'f32' },
  ) {
    this.kvDtype = opts.kvDtype;
    this.be = be;
    this.context = opts.context;
    this.slots = opts.slots;
    this.maxBatchTokens = opts.maxBatchTokens;
    this.roundProbsF16 = opts.roundProbsF16;
  }

  static async load<H extends Handles>(source: ModelSource, backend: KernelBackend<H>, opts: BitNetLoadOptions): Promise<BitNetModel<H>> {
    const c = source.config;
    checkConfig(c);
    if (!isPositiveInt(opts.slots)) throw invalidArgument('slots', `must be a positive integer, got ${opts.slots}`);
    const context = opts.context ?? c.context;
    if (!isPositiveInt(context) || context > c.context)
      throw invalidArgument('context', `must be an integer in [1, ${c.context}], got ${context}`);
    const maxBatchTokens = opts.maxBatchTokens ?? Math.max(opts.slots, Math.min(512, context));
    if (!isPositiveInt(maxBatchTokens)) throw invalidArgument('maxBatchTokens', `must be a positive integer, got ${maxBatchTokens}`);
    const roundProbsF16 = opts.roundProbsF16 ?? defaultRoundProbs(c.actQuant);
    if (!['always', 'single-token', 'never'].includes(roundProbsF16))
      throw invalidArgument('roundProbsF16', `must be always, single-token or never, got ${String(roundProbsF16)}`);
    const kvDtype = opts.kvDtype ?? 'f16';
    if (kvDtype !== 'f16' && kvDtype !== 'f32') throw invalidArgument('kvDtype', `must be f16 or f32, got ${String(kvDtype)}`);
    if (opts.lmHeadFormat !== undefined && !['f16', 'f32', 'q8'].includes(opts.lmHeadFormat))
      throw invalidArgument('lmHeadFormat', `must be f16, f32 or q8, got ${String(opts.lmHeadFormat)}`);

    const be = opts.validate === false ? backend : checked(backend);
    const tied = !source.hasTensor('output.weight');
    // q8 on a tied model is one matrix: the LM head and the embedding lookups (each row dequantized when looked up)
    // read the same q8 rows, and no copy in the file's format is kept (2B4T: 328 MB instead of 657 + 328).
    const sharedQ8 = tied && opts.lmHeadFormat === 'q8';
    // Every variant this model runs is asked before any weight is read: a backend that lacks one refuses the load.
    const embeddingFormat = sharedQ8 ? 'q8' : fileMatrixFormat(source, 'token_embd.weight');
    const lmHeadFormat = opts.lmHeadFormat ?? (tied ? embeddingFormat : fileMatrixFormat(source, 'output.weight'));
    const missing = missingOps(backend, c, { lmHeadFormat, embeddingFormat, kvDtype });
    if (missing.length > 0)
      throw new TrineError(
        'UNSUPPORTED',
        `backend ${backend.info.name} cannot run this model: ${missing.map((m) => `${m.key} (${m.reason})`).join('; ')}`,
        { field: 'backend' },
      );

    const sizes = new Map(source.tensors.map((t) => [t.name, t.bytes]));
    const total = source.weightBytes;
    let loaded = 0;
    const owned: (H['tensor'] | H['ternary'] | H['matrix'] | H['kv'])[] = [];
    const done = (name: string) => {
      loaded += sizes.get(name) ?? 0;
      opts.onProgress?.(Math.min(loaded, total), total);
    };
    const f32 = async (name: string, len: number): Promise<H['tensor']> => {
      const host = await source.readF32(name);
      if (host.shape.length !== 1 || host.shape[0] !== len) throw wrongShape(name, `[${len}]`, `[${host.shape.join(', ')}]`);
      const t = be.upload(host);
      owned.push(t);
      done(name);
      return t;
    };
    const ternary = async (name: string, rows: number, cols: number): Promise<H['ternary']> => {
      const host = await source.readTernary(name);
      if (host.rows !== rows || host.cols !== cols) throw wrongShape(name, `[${rows}, ${cols}]`, `[${host.rows}, ${host.cols}]`);
      const t = be.uploadTernary(host);
      owned.push(t);
      done(name);
      return t;
    };
    const matrix = async (name: string, format: MatrixFormat | undefined): Promise<H['matrix']> => {
      let host = await source.readMatrix(name, be.hostMemory ? (bytes) => be.hostMemory!(bytes) : undefined);
      if (host.shape.length !== 2 || host.shape[0] !== c.vocab || host.shape[1] !== c.hidden)
        throw wrongShape(name, `[${c.vocab}, ${c.hidden}]`, `[${host.shape.join(', ')}]`);
      const fmt = format ?? host.dtype;
      if (fmt === 'f16' && host.dtype === 'f32') host = toF16(host as HostTensor<'f32'>);
      const m = be.uploadMatrix(host, fmt);
      owned.push(m);
      done(name);
      return m;
    };

    try {
      const { hidden: D, ffn: F, heads: Hq, kvHeads: Hkv, headDim: Dh } = c;
      const token_embd = await matrix('token_embd.weight', sharedQ8 ? 'q8' : undefined);
      const output = tied
        ? opts.lmHeadFormat === undefined || opts.lmHeadFormat === token_embd.format
          ? token_embd
          : await matrix('token_embd.weight', opts.lmHeadFormat) // a second copy in the LM head's own format
        : await matrix('output.weight', opts.lmHeadFormat);
      const layers: LayerWeights<H>[] = [];
      for (let l = 0; l < c.layers; l++) {
        const n = (t: string) => `blk.${l}.${t}.weight`;
        layers.push({
          attn_norm: await f32(n('attn_norm'), D),
          attn_q: await ternary(n('attn_q'), Hq * Dh, D),
          attn_k: await ternary(n('attn_k'), Hkv * Dh, D),
          attn_v: await ternary(n('attn_v'), Hkv * Dh, D),
          attn_sub_norm: await f32(n('attn_sub_norm'), Hq * Dh),
          attn_output: await ternary(n('attn_output'), D, Hq * Dh),
          ffn_norm: await f32(n('ffn_norm'), D),
          ffn_gate: await ternary(n('ffn_gate'), F, D),
          ffn_up: await ternary(n('ffn_up'), F, D),
          ffn_sub_norm: await f32(n('ffn_sub_norm'), F),
          ffn_down: await ternary(n('ffn_down'), D, F),
        });
      }
      const output_norm = await f32('output_norm.weight', D);
      const weights: BitNetWeights<H> = { token_embd, output_norm, output, layers };

      const kv = be.createKvCache({ layers: c.layers, slots: opts.slots, context, kvHeads: Hkv, headDim: Dh, dtype: kvDtype });
      owned.push(kv);
      const state = allocState(be, c, maxBatchTokens, (t) => owned.push(t));
      return new BitNetModel(c, backend, be, weights, state, kv, { context, slots: opts.slots, maxBatchTokens, roundProbsF16, kvDtype });
    } catch (e) {
      for (const h of owned) backend.dispose(h);
      throw e;
    }
  }

  /**
   * One step: token i at (slots[i], positions[i]); returns logits f32 [logitsFor.length, vocab] for the token rows
   * listed in logitsFor (a backend tensor valid until the next forward; its shape is [maxBatchTokens, vocab] and
   * row j holds the logits of token logitsFor[j]). Steps longer than maxBatchTokens run in chunks; then every
   * logitsFor row must lie in the last maxBatchTokens tokens.
   */
  forward(step: ForwardStep): H['tensor'] {
    if (this.disposed) throw invalidArgument('model', 'is disposed');
    const { tokens, positions, slots, logitsFor } = step;
    this.checkStep(step);
    const n = tokens.length;
    const cap = this.maxBatchTokens;
    const lastStart = Math.max(0, n - cap);
    for (let i = 0; i < logitsFor.length; i++)
      if (logitsFor[i]! < lastStart)
        throw invalidArgument(`logitsFor[${i}]`, `row ${logitsFor[i]} is not in the last chunk of ${cap} tokens (maxBatchTokens)`);
    // Chunks: [0, cap), [cap, 2cap) … up to lastStart, then the final [lastStart, n) holding every logits row.
    for (let start = 0; start < lastStart; start += cap) this.runChunk(step, start, Math.min(start + cap, lastStart), null);
    this.runChunk(step, lastStart, n, logitsFor);
    return this.state.logits;
  }

  private runChunk(step: ForwardStep, start: number, end: number, logitsFor: Int32Array | null): void {
    const { be, config: c, state: s } = this;
    const rows = end - start;
    const batch = be.prepareBatch(step.positions.subarray(start, end), step.slots.subarray(start, end));
    const rope: RopeParams = { ropeDim: c.ropeDim, headDim: c.headDim, theta: c.ropeTheta };
    const roundProbs =
      this.roundProbsF16 === 'always' || (this.roundProbsF16 === 'single-token' && (step.decode === true || oneTokenPerSlot(step.slots, start, end)));
    const attention: AttentionParams = {
      heads: c.heads,
      kvHeads: c.kvHeads,
      headDim: c.headDim,
      scale: 1 / Math.sqrt(c.headDim),
      roundProbsF16: roundProbs,
    };
    const ctx: BlockContext<H> = { be, config: c, state: s, kv: this.kv, batch, rows, rope, attention, trace: this.trace };

    be.embedding(s.x, this.weights.token_embd, step.tokens.subarray(start, end));
    this.trace?.('token_embd', -1, s.x, rows);
    for (let l = 0; l < c.layers; l++) {
      const w = this.weights.layers[l]!;
      attentionBlock(ctx, l, w);
      ffnBlock(ctx, l, w);
    }
    if (!logitsFor || logitsFor.length === 0) return;
    be.rmsNorm(s.x_final, s.x, this.weights.output_norm, c.rmsEps, rows);
    this.trace?.('output_norm', -1, s.x_final, rows);
    const select = start === 0 ? logitsFor : logitsFor.map((r) => r - start);
    be.lmHead(s.logits, s.x_final, this.weights.output, select);
    this.trace?.('logits', -1, s.logits, select.length);
  }

  private checkStep(step: ForwardStep): void {
    const { tokens, positions, slots, logitsFor } = step;
    for (const [k, a] of [['tokens', tokens], ['positions', positions], ['slots', slots], ['logitsFor', logitsFor]] as const)
      if (!(a instanceof Int32Array)) throw invalidArgument(k, 'must be an Int32Array');
    const n = tokens.length;
    if (n === 0) throw invalidArgument('tokens', 'must not be empty');
    if (positions.length !== n) throw invalidArgument('positions', `length ${positions.length} ≠ tokens length ${n}`);
    if (slots.length !== n) throw invalidArgument('slots', `length ${slots.length} ≠ tokens length ${n}`);
    if (logitsFor.length > this.maxBatchTokens)
      throw invalidArgument('logitsFor', `asks for ${logitsFor.length} rows, at most maxBatchTokens = ${this.maxBatchTokens}`);
    // Within one step a slot's tokens must come in increasing position order: each attends to the ones before it.
    const last = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const t = tokens[i]!;
      const p = positions[i]!;
      const sl = slots[i]!;
      if (t < 0 || t >= this.config.vocab) throw invalidArgument(`tokens[${i}]`, `${t} is outside [0, ${this.config.vocab})`);
      if (p < 0 || p >= this.context) throw invalidArgument(`positions[${i}]`, `${p} is outside [0, ${this.context})`);
      if (sl < 0 || sl >= this.slots) throw invalidArgument(`slots[${i}]`, `${sl} is outside [0, ${this.slots})`);
      const prev = last.get(sl);
      if (prev !== undefined && p <= prev)
        throw invalidArgument(`positions[${i}]`, `${p} does not follow position ${prev} of slot ${sl} in this step`);
      last.set(sl, p);
    }
    for (let i = 0; i < logitsFor.length; i++)
      if (logitsFor[i]! < 0 || logitsFor[i]! >= n) throw invalidArgument(`logitsFor[${i}]`, `${logitsFor[i]} is outside [0, ${n})`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const be = this.backend;
    const w = this.weights;
    if (w.output !== w.token_embd) be.dispose(w.output);
    be.dispose(w.token_embd);
    be.dispose(w.output_norm);
    for (const l of w.layers) for (const h of Object.values(l)) be.dispose(h as H['tensor']);
    for (const t of Object.values(this.state)) {
      if (typeof t !== 'object' || t === null) continue;
      if ('scheme' in t) {
        be.dispose((t as QuantizedActs<H['tensor']>).q);
        be.dispose((t as QuantizedActs<H['tensor']>).scales);
      } else be.dispose(t as H['tensor']);
    }
    be.dispose(this.kv);
  }
}

function toF16(host: HostTensor<'f32'>): HostTensor<'f16'> {
  const data = new Uint16Array(host.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f32ToF16(host.data[i]!);
  return { dtype: 'f16', shape: host.shape, data };
}

function allocState<H extends Handles>(
  be: KernelBackend<H>,
  c: BitNetConfig,
  cap: number,
  own: (t: H['tensor']) => void,
): RunState<H> {
  const t = (width: number, dtype: 'f32' | 'i8' = 'f32') => {
    const x = be.alloc(dtype, [cap, width]);
    own(x);
    return x;
  };
  const qa = (width: number): QuantizedActs<H['tensor']> => ({
    scheme: c.actQuant,
    q: t(width, 'i8'),
    scales: t(c.actQuant === 'per_token' ? 1 : width / 256),
  });
  const att = c.heads * c.headDim;
  const kvw = c.kvHeads * c.headDim;
  return {
    cap,
    x: t(c.hidden),
    xb: t(c.hidden),
    xb_q: qa(c.hidden),
    q: t(att),
    k: t(kvw),
    v: t(kvw),
    att: t(att),
    att_sub: t(att),
    att_sub_q: qa(att),
    attn_out: t(c.hidden),
    gate: t(c.ffn),
    up: t(c.ffn),
    ffn_act: t(c.ffn),
    ffn_sub: t(c.ffn),
    ffn_sub_q: qa(c.ffn),
    ffn_out: t(c.hidden),
    x_final: t(c.hidden),
    logits: t(c.vocab),
  };
}
