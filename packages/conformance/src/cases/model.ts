import {
  BitNetModel,
  openModel,
  type ActQuantScheme,
  type BitNetLoadOptions,
  type GateActivation,
  type Handles,
  type KernelBackend,
  type KernelVariant,
  type MatrixFormat,
  type TensorDesc,
} from '@trine/core';
import { compareOutput, compareOutputs, formatNumber } from '../compare.js';
import { Prng } from '../prng.js';
import { buildTinyModel, type TinyModelSpec } from '../model/tiny-model.js';
import { TOL } from '../tolerances.js';
import type { CaseOutput, Check, ConformanceCase, OutputComparison, PreparedCase } from '../types.js';

/**
 * Whole-model cases: a small random BitNet model written by Trine's GGUF writer, loaded by core's loader and run by
 * core's graph on the backend under test; logits by NMSE, greedy tokens exactly (or a reported near-tie).
 */

interface ModelSetup {
  label: string;
  spec: TinyModelSpec;
  kvDtype: 'f16' | 'f32';
  lmHeadFormat?: MatrixFormat;
  roundProbsF16?: BitNetLoadOptions['roundProbsF16'];
}

const I2S_MODEL: TinyModelSpec = {
  arch: 'bitnet-b1.58', ternary: 'I2_S', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, vocab: 320, context: 64, seed: 42,
};
const TQ2_MODEL: TinyModelSpec = {
  arch: 'bitnet', ternary: 'TQ2_0', hidden: 256, layers: 2, heads: 4, kvHeads: 1, ffn: 512, vocab: 320, context: 64, seed: 43,
};
const TQ1_MODEL: TinyModelSpec = { ...TQ2_MODEL, ternary: 'TQ1_0', kvHeads: 4, seed: 44 };

function scheme(s: TinyModelSpec): ActQuantScheme {
  return s.ternary === 'I2_S' ? 'per_token' : 'per_block256';
}
function activation(s: TinyModelSpec): GateActivation {
  return s.arch === 'bitnet' ? 'silu' : 'relu2';
}

/** Every variant the forward pass of this setup calls. */
function modelVariants(m: ModelSetup): KernelVariant[] {
  const sch = scheme(m.spec);
  return [
    // The tiny models are tied: a q8 LM head is the embedding table too (core's loader keeps one q8 matrix).
    { op: 'embedding', format: m.lmHeadFormat === 'q8' ? 'q8' : 'f16' },
    { op: 'rmsNorm' },
    { op: 'add' },
    { op: 'quantizeActs', scheme: sch },
    { op: 'ternaryMatmul', scheme: sch },
    { op: 'rope' },
    { op: 'kvStore', dtype: m.kvDtype, headDim: m.spec.hidden / m.spec.heads },
    { op: 'attention', dtype: m.kvDtype, headDim: m.spec.hidden / m.spec.heads },
    { op: 'gatedActivation', act: activation(m.spec) },
    { op: 'lmHead', format: m.lmHeadFormat ?? 'f16' },
  ];
}

const modelBytes = new Map<string, Uint8Array>();
function bytesOf(spec: TinyModelSpec): Uint8Array {
  const key = JSON.stringify(spec);
  let b = modelBytes.get(key);
  if (!b) modelBytes.set(key, (b = buildTinyModel(spec)));
  return b;
}

async function loadModel(m: ModelSetup, backend: KernelBackend, slots: number) {
  const source = await openModel(bytesOf(m.spec));
  try {
    return await BitNetModel.load(source, backend, {
      slots,
      kvDtype: m.kvDtype,
      ...(m.lmHeadFormat ? { lmHeadFormat: m.lmHeadFormat } : {}),
      ...(m.roundProbsF16 ? { roundProbsF16: m.roundProbsF16 } : {}),
    });
  } finally {
    await source.close();
  }
}

/** Token ids for prompts and teacher-forced continuations (never BOS / EOS, which sit at the top of the vocab). */
function tokenIds(rng: Prng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => rng.int(0, vocab - 3));
}

function modelName(m: ModelSetup, what: string): string {
  const extras = [`kv-${m.kvDtype}`, ...(m.lmHeadFormat ? [`lm-${m.lmHeadFormat}`] : [])].join('.');
  return `model/${m.spec.arch}.${m.spec.ternary.toLowerCase()}.${scheme(m.spec)}.${activation(m.spec)}/${what}/${extras}`;
}

/**
 * Every output against the reference's, then this backend's output `b` against its own output `a` (under `check`, else
 * a's): two ways of computing the same thing must agree on each backend, not only with the reference.
 */
function withSelfComparison(a: string, b: string, check: Check | undefined, what: string): NonNullable<ConformanceCase['compare']> {
  return (expected, actual) => {
    const cmp = compareOutputs(expected, actual);
    const x = actual.find((o) => o.name === a);
    const y = actual.find((o) => o.name === b);
    if (x && y) {
      const name = `${b}-vs-${a}`;
      const self = compareOutput({ ...x, name, ...(check ? { check } : {}) }, { ...y, name });
      cmp.push({ ...self, detail: `${self.detail} (${what})` });
    }
    return cmp;
  };
}

function modelCase(
  m: ModelSetup,
  what: string,
  description: string,
  body: (model: BitNetModel<Handles>, backend: KernelBackend) => Promise<CaseOutput[]>,
  slots = 1,
  compare?: ConformanceCase['compare'],
  extraVariants: KernelVariant[] = [],
): ConformanceCase {
  return {
    name: modelName(m, what),
    op: 'model',
    requires: [...modelVariants(m), ...extraVariants],
    description,
    size: 'small',
    ...(compare ? { compare } : {}),
    async prepare(backend: KernelBackend): Promise<PreparedCase> {
      let outputs: CaseOutput[] = [];
      let model: BitNetModel<Handles> | undefined;
      return {
        async run() {
          // A fresh model (and KV cache) per run, so perf mode times load + the whole token sequence.
          model?.dispose();
          model = (await loadModel(m, backend, slots));
          outputs = await body(model, backend);
        },
        async outputs() {
          return outputs;
        },
        async sync() {},
        dispose() {
          model?.dispose();
        },
      };
    },
  };
}

/** Logits after a 9-token prompt (every prompt row) and 4 teacher-forced decode steps. */
function logitsCase(m: ModelSetup): ConformanceCase {
  const rng = new Prng(m.spec.seed * 7 + 1);
  const V = m.spec.vocab;
  const prompt = [V - 1, ...tokenIds(rng, 8, V)];
  const forced = tokenIds(rng, 4, V);
  const check = { kind: 'nmse', max: TOL.modelLogits } as const;
  return modelCase(m, 'logits', `prefill of ${prompt.length} tokens (logits of every row), then ${forced.length} decode steps`, async (model, be) => {
    const P = prompt.length;
    const pre = model.forward({
      tokens: Int32Array.from(prompt),
      positions: Int32Array.from(prompt, (_, i) => i),
      slots: new Int32Array(P),
      logitsFor: Int32Array.from(prompt, (_, i) => i),
    });
    const prefill = (await be.read(pre, P)).data as Float32Array;
    const decode = new Float32Array(forced.length * V);
    for (let k = 0; k < forced.length; k++) {
      const out = model.forward({ tokens: Int32Array.of(forced[k]!), positions: Int32Array.of(P + k), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
      decode.set((await be.read(out, 1)).data as Float32Array, k * V);
    }
    return [
      { name: 'prefill', data: prefill, check, rowLength: V },
      { name: 'decode', data: decode, check, rowLength: V },
    ];
  });
}

/**
 * Greedy continuation of 8 tokens, chosen on the device by the backend's argmax. Tokens must equal the reference's;
 * where they first differ, the case still passes if the reference's logits for the two tokens are within
 * TOL.greedyTieGap (a near-tie any float difference may flip) and reports the position and gap.
 */
function greedyCase(m: ModelSetup, steps = 8): ConformanceCase {
  const rng = new Prng(m.spec.seed * 7 + 2);
  const V = m.spec.vocab;
  const prompt = [V - 1, ...tokenIds(rng, 6, V)];
  return modelCase(
    m,
    `greedy${steps}`,
    `greedy continuation of ${steps} tokens after a ${prompt.length}-token prompt`,
    async (model, be) => {
      const idx = be.alloc('i32', [1, 1]);
      try {
        const tokens = new Int32Array(steps);
        const logits = new Float32Array(steps * V);
        let out = model.forward({
          tokens: Int32Array.from(prompt),
          positions: Int32Array.from(prompt, (_, i) => i),
          slots: new Int32Array(prompt.length),
          logitsFor: Int32Array.of(prompt.length - 1),
        });
        for (let k = 0; k < steps; k++) {
          be.argmax(idx, out, 1);
          logits.set((await be.read(out, 1)).data as Float32Array, k * V);
          tokens[k] = ((await be.read(idx, 1)).data as Int32Array)[0]!;
          if (k + 1 < steps)
            out = model.forward({ tokens: tokens.subarray(k, k + 1), positions: Int32Array.of(prompt.length + k), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
        }
        return [
          { name: 'tokens', data: tokens, check: { kind: 'exact' } },
          { name: 'logits', data: logits, check: { kind: 'nmse', max: TOL.modelLogits }, rowLength: V },
        ];
      } finally {
        be.dispose(idx);
      }
    },
    1,
    (expected, actual) => compareGreedy(expected, actual, V),
    [{ op: 'argmax' }], // tokens are chosen on the device
  );
}

export function compareGreedy(expected: readonly CaseOutput[], actual: readonly CaseOutput[], V: number): OutputComparison[] {
  const et = expected.find((o) => o.name === 'tokens')!.data;
  const at = actual.find((o) => o.name === 'tokens')?.data;
  const el = expected.find((o) => o.name === 'logits')!.data as Float32Array;
  const al = actual.find((o) => o.name === 'logits')?.data as Float32Array | undefined;
  if (!at || !al || at.length !== et.length) {
    return [{ name: 'tokens', check: { kind: 'exact' }, ok: false, elements: et.length, detail: 'tokens: missing or wrong length' }];
  }
  let first = -1;
  for (let k = 0; k < et.length; k++)
    if (et[k] !== at[k]) {
      first = k;
      break;
    }
  // Logits are comparable up to and including the first divergent step (the contexts agree until then).
  const upto = first < 0 ? et.length : first + 1;
  const logitsCmp = compareOutputs(
    [{ name: 'logits', data: el.subarray(0, upto * V), check: { kind: 'nmse', max: TOL.modelLogits }, rowLength: V }],
    [{ name: 'logits', data: al.subarray(0, upto * V), check: { kind: 'nmse', max: TOL.modelLogits }, rowLength: V }],
  )[0]!;
  let tokens: OutputComparison;
  const toks = (d: ArrayLike<number>) => Array.from(d).join(' ');
  if (first < 0) {
    tokens = { name: 'tokens', check: { kind: 'exact' }, ok: true, mismatches: 0, elements: et.length, detail: `tokens: all ${et.length} equal (${toks(et)})` };
  } else {
    const row = el.subarray(first * V, (first + 1) * V);
    const gap = row[et[first]!]! - row[at[first]!]!;
    const tie = gap <= TOL.greedyTieGap;
    tokens = {
      name: 'tokens',
      check: { kind: 'exact' },
      ok: tie,
      mismatches: et.length - first,
      elements: et.length,
      detail:
        `tokens: first differ at step ${first} (got ${at[first]}, expected ${et[first]}); reference logit gap ` +
        `${formatNumber(gap)} ${tie ? `≤ ${TOL.greedyTieGap}: a near-tie, accepted` : `> ${TOL.greedyTieGap}: not a near-tie`}` +
        `; got [${toks(at)}], expected [${toks(et)}]`,
    };
  }
  return [tokens, logitsCmp];
}

/**
 * Batched decode vs one sequence at a time: three prompts of different lengths prefilled in one mixed step, then
 * 4 decode steps of one token per slot, against the same tokens run slot by slot. Each backend's batched and
 * single logits are compared with the reference's, and with each other.
 */
function batchedCase(m: ModelSetup): ConformanceCase {
  const rng = new Prng(m.spec.seed * 7 + 3);
  const V = m.spec.vocab;
  const prompts = [5, 9, 2].map((n) => [V - 1, ...tokenIds(rng, n - 1, V)]);
  const forced = prompts.map(() => tokenIds(rng, 4, V));
  const steps = forced[0]!.length;
  const S = prompts.length;
  const check = { kind: 'nmse', max: TOL.modelLogits } as const;
  return modelCase(
    m,
    'batched-vs-single',
    `${S} slots (prompts of ${prompts.map((p) => p.length).join('/')} tokens) prefilled in one step, then ${steps} batched decode steps`,
    async (model, be) => {
      // Rows: per slot, the last prompt token's logits then each decode step's, in slot order.
      const batched = new Float32Array(S * (steps + 1) * V);
      const single = new Float32Array(S * (steps + 1) * V);
      const at = (s: number, k: number) => (s * (steps + 1) + k) * V;

      // Batched: one step with every prompt (slot-major), logits for each prompt's last row.
      const tokens = prompts.flat();
      const slots = prompts.flatMap((p, s) => p.map(() => s));
      const positions = prompts.flatMap((p) => p.map((_, i) => i));
      const lastRows: number[] = [];
      let acc = 0;
      for (const p of prompts) lastRows.push((acc += p.length) - 1);
      let out = model.forward({ tokens: Int32Array.from(tokens), positions: Int32Array.from(positions), slots: Int32Array.from(slots), logitsFor: Int32Array.from(lastRows) });
      let host = (await be.read(out, S)).data as Float32Array;
      for (let s = 0; s < S; s++) batched.set(host.subarray(s * V, (s + 1) * V), at(s, 0));
      for (let k = 0; k < steps; k++) {
        out = model.forward({
          tokens: Int32Array.from(forced, (f) => f[k]!),
          positions: Int32Array.from(prompts, (p) => p.length + k),
          slots: Int32Array.from(prompts, (_, s) => s),
          logitsFor: Int32Array.from(prompts, (_, s) => s),
        });
        host = (await be.read(out, S)).data as Float32Array;
        for (let s = 0; s < S; s++) batched.set(host.subarray(s * V, (s + 1) * V), at(s, k + 1));
      }

      // Single: the same tokens, one sequence at a time, each in its own slot (fresh positions there).
      for (let s = 0; s < S; s++) {
        const p = prompts[s]!;
        // The slot's positions are rewritten in order, so attention never reads the batched run's entries.
        out = model.forward({ tokens: Int32Array.from(p), positions: Int32Array.from(p, (_, i) => i), slots: new Int32Array(p.length).fill(s), logitsFor: Int32Array.of(p.length - 1) });
        single.set(((await be.read(out, 1)).data as Float32Array), at(s, 0));
        for (let k = 0; k < steps; k++) {
          out = model.forward({ tokens: Int32Array.of(forced[s]![k]!), positions: Int32Array.of(p.length + k), slots: Int32Array.of(s), logitsFor: Int32Array.of(0) });
          single.set(((await be.read(out, 1)).data as Float32Array), at(s, k + 1));
        }
      }
      return [
        { name: 'batched', data: batched, check, rowLength: V },
        { name: 'single', data: single, check, rowLength: V },
      ];
    },
    S,
    withSelfComparison('single', 'batched', undefined, "this backend's batched logits against its own single-sequence logits"),
  );
}

/**
 * The engine's prefix cache hands a slot's K/V to a later sequence, which prefills only the rest of its prompt: that
 * is exact only if a row's K/V do not depend on how the prompt was cut into steps. Slot 0 prefills the prompt in one
 * step; slot 1 prefills the first `cut` tokens, then the rest — `decodedPrefix` feeds tokens [cut, P) of slot 0 one
 * decode step each instead (what a reused chat reply is under 'always' rounding). Both then take the same forced
 * decode steps. Each backend's split logits must equal its whole-prompt logits bit for bit.
 */
function prefixSplitCase(m: ModelSetup, cut: number, decodedPrefix: boolean): ConformanceCase {
  const rng = new Prng(m.spec.seed * 7 + 4);
  const V = m.spec.vocab;
  const prompt = [V - 1, ...tokenIds(rng, 19, V)];
  const tail = prompt.length - cut;
  const forced = tokenIds(rng, 3, V);
  const check = { kind: 'nmse', max: TOL.modelLogits } as const;
  const step = (model: BitNetModel<Handles>, tokens: number[], from: number, slot: number) =>
    model.forward({
      tokens: Int32Array.from(tokens),
      positions: Int32Array.from(tokens, (_, i) => from + i),
      slots: new Int32Array(tokens.length).fill(slot),
      logitsFor: Int32Array.of(tokens.length - 1),
    });
  return modelCase(
    m,
    `prefix-split-${decodedPrefix ? 'decoded' : 'prefilled'}${cut}`,
    `a ${prompt.length}-token prompt in one step vs its first ${cut} tokens ${decodedPrefix ? 'then one decode step per token' : 'then the other ' + tail} in a second slot, then ${forced.length} decode steps each`,
    async (model, be) => {
      const rows = forced.length + 1;
      const whole = new Float32Array(rows * V);
      const split = new Float32Array(rows * V);
      const continueFrom = async (slot: number, first: TensorDesc, into: Float32Array) => {
        into.set((await be.read(first, 1)).data as Float32Array, 0);
        for (let k = 0; k < forced.length; k++)
          into.set((await be.read(step(model, [forced[k]!], prompt.length + k, slot), 1)).data as Float32Array, (k + 1) * V);
      };
      await continueFrom(0, step(model, prompt, 0, 0), whole);
      let out = step(model, prompt.slice(0, cut), 0, 1);
      if (decodedPrefix) for (let i = cut; i < prompt.length; i++) out = step(model, [prompt[i]!], i, 1);
      else out = step(model, prompt.slice(cut), cut, 1);
      await continueFrom(1, out, split);
      return [
        { name: 'whole', data: whole, check, rowLength: V },
        { name: 'split', data: split, check, rowLength: V },
      ];
    },
    2,
    withSelfComparison('whole', 'split', { kind: 'exact' }, "this backend's split-prompt logits against its own whole-prompt logits"),
  );
}

const I2S: ModelSetup = { label: 'i2s', spec: I2S_MODEL, kvDtype: 'f16' };
const TQ2: ModelSetup = { label: 'tq2', spec: TQ2_MODEL, kvDtype: 'f32' };
const TQ1: ModelSetup = { label: 'tq1', spec: TQ1_MODEL, kvDtype: 'f16', lmHeadFormat: 'q8' };

export const modelCases: ConformanceCase[] = [
  logitsCase(I2S),
  greedyCase(I2S),
  // Probabilities rounded the same way for 1-token and 3-token steps, so batched and single are the same math.
  batchedCase({ ...I2S, roundProbsF16: 'always' }),
  logitsCase(TQ2),
  greedyCase(TQ2),
  batchedCase({ ...TQ2, roundProbsF16: 'never' }),
  logitsCase(TQ1),
  // bitnet.cpp's rounding ('single-token'): a reused prefix of multi-token rows, the rest in more than one token.
  prefixSplitCase(I2S, 16, false),
  // Rounding in every step: rows fed one decode step each (a reused reply) equal prefilled ones.
  prefixSplitCase({ ...TQ2, roundProbsF16: 'always' }, 12, true),
];
