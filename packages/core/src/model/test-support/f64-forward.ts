/**
 * An independent float64 BitNet b1.58 forward pass for tests: plain loops over decoded weights, written from the
 * paper / model.md, sharing no code with the reference kernels or the model graph. Everything is f64 except the
 * discretizations that define the model and its engines: int8 activation codes (per_token or per_block256), the
 * f16 KV cache, q rounded to f16 against it, optional f16 softmax probabilities, and x rounded to f16 before the
 * f16 LM head.
 */
import type { BitNetConfig, ModelSource } from '../config.js';
import { f16ToF32, roundF16, roundHalfEven } from '../../quant/f16.js';
import { decodeTernaryCodes } from '../../quant/ternary.js';

interface Linear {
  out: number;
  in: number;
  codes: Int8Array;
  scales: Float32Array; // 1 or out·in/256
}
interface Layer {
  attn_norm: Float32Array;
  q: Linear;
  k: Linear;
  v: Linear;
  attn_sub_norm: Float32Array;
  o: Linear;
  ffn_norm: Float32Array;
  gate: Linear;
  up: Linear;
  ffn_sub_norm: Float32Array;
  down: Linear;
}

export class F64BitNet {
  private readonly kCache: number[][][]; // [slot][layer] → flat [pos, Hkv·Dh]
  private readonly vCache: number[][][];

  private constructor(
    readonly c: BitNetConfig,
    private readonly embd: Float64Array, // [V, D]
    private readonly outputNorm: Float32Array,
    private readonly layers: Layer[],
    slots: number,
    private readonly roundProbs: boolean,
  ) {
    this.kCache = Array.from({ length: slots }, () => layers.map(() => []));
    this.vCache = Array.from({ length: slots }, () => layers.map(() => []));
  }

  static async load(src: ModelSource, slots: number, roundProbs: boolean): Promise<F64BitNet> {
    const c = src.config;
    const m = await src.readMatrix('token_embd.weight');
    const embd = Float64Array.from(m.data as ArrayLike<number>, (x) => (m.dtype === 'f16' ? f16ToF32(x) : x));
    const vec = async (n: string) => (await src.readF32(n)).data;
    const lin = async (n: string): Promise<Linear> => {
      const t = await src.readTernary(n);
      return { out: t.rows, in: t.cols, codes: decodeTernaryCodes(t), scales: Float32Array.from(t.scales) };
    };
    const layers: Layer[] = [];
    for (let l = 0; l < c.layers; l++) {
      const p = `blk.${l}.`;
      layers.push({
        attn_norm: await vec(`${p}attn_norm.weight`),
        q: await lin(`${p}attn_q.weight`),
        k: await lin(`${p}attn_k.weight`),
        v: await lin(`${p}attn_v.weight`),
        attn_sub_norm: await vec(`${p}attn_sub_norm.weight`),
        o: await lin(`${p}attn_output.weight`),
        ffn_norm: await vec(`${p}ffn_norm.weight`),
        gate: await lin(`${p}ffn_gate.weight`),
        up: await lin(`${p}ffn_up.weight`),
        ffn_sub_norm: await vec(`${p}ffn_sub_norm.weight`),
        down: await lin(`${p}ffn_down.weight`),
      });
    }
    return new F64BitNet(c, embd, await vec('output_norm.weight'), layers, slots, roundProbs);
  }

  private rmsNorm(x: number[], w: Float32Array): number[] {
    const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + this.c.rmsEps);
    return x.map((v, i) => v * r * w[i]!);
  }

  /** BitLinear: int8 activations (the config's scheme) times ternary codes, scaled back. */
  private bitLinear(x: number[], w: Linear): number[] {
    const y = new Array<number>(w.out).fill(0);
    if (this.c.actQuant === 'per_token') {
      const s = 127 / Math.max(Math.max(...x.map(Math.abs)), 1e-5);
      const q = x.map((v) => Math.min(127, Math.max(-128, roundHalfEven(v * s))));
      for (let n = 0; n < w.out; n++) {
        let acc = 0;
        for (let k = 0; k < w.in; k++) acc += w.codes[n * w.in + k]! * q[k]!;
        y[n] = (acc / s) * w.scales[0]!;
      }
      return y;
    }
    const G = w.in / 256;
    const q = new Array<number>(w.in);
    const d = new Array<number>(G);
    for (let g = 0; g < G; g++) {
      let m = 0;
      for (let j = 0; j < 256; j++) if (Math.abs(x[g * 256 + j]!) > Math.abs(m)) m = x[g * 256 + j]!;
      const iscale = m === 0 ? 0 : -127 / m;
      d[g] = m === 0 ? 0 : 1 / iscale;
      for (let j = 0; j < 256; j++) q[g * 256 + j] = Math.min(127, roundHalfEven(iscale * x[g * 256 + j]!));
    }
    for (let n = 0; n < w.out; n++)
      for (let g = 0; g < G; g++) {
        let acc = 0;
        for (let j = 0; j < 256; j++) acc += w.codes[n * w.in + g * 256 + j]! * q[g * 256 + j]!;
        const ws = w.scales.length === 1 ? w.scales[0]! : w.scales[(n * w.in) / 256 + g]!;
        y[n]! += acc * ws * d[g]!;
      }
    return y;
  }

  private rope(x: number[], heads: number, pos: number): void {
    const { headDim: Dh, ropeDim: R, ropeTheta } = this.c;
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < R / 2; i++) {
        const a = pos * Math.pow(ropeTheta, (-2 * i) / R);
        const [x0, x1] = [x[h * Dh + i]!, x[h * Dh + i + R / 2]!];
        x[h * Dh + i] = x0 * Math.cos(a) - x1 * Math.sin(a);
        x[h * Dh + i + R / 2] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
  }

  /** Feed one token of `slot` at position `pos` (positions must arrive in order); returns its logits. */
  step(token: number, pos: number, slot: number): Float64Array {
    const c = this.c;
    const { hidden: D, heads: H, kvHeads: Hkv, headDim: Dh } = c;
    let x = Array.from(this.embd.subarray(token * D, (token + 1) * D));
    for (let l = 0; l < c.layers; l++) {
      const L = this.layers[l]!;
      // attention
      const n = this.rmsNorm(x, L.attn_norm);
      const q = this.bitLinear(n, L.q);
      const k = this.bitLinear(n, L.k);
      const v = this.bitLinear(n, L.v);
      this.rope(q, H, pos);
      this.rope(k, Hkv, pos);
      const kc = this.kCache[slot]![l]!;
      const vc = this.vCache[slot]![l]!;
      kc.splice(pos * Hkv * Dh, Hkv * Dh, ...k.map(roundF16));
      vc.splice(pos * Hkv * Dh, Hkv * Dh, ...v.map(roundF16));
      const att = new Array<number>(H * Dh).fill(0);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / Hkv));
        const scores: number[] = [];
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let d = 0; d < Dh; d++) s += roundF16(q[h * Dh + d]!) * kc[(t * Hkv + kvh) * Dh + d]!;
          scores.push(s / Math.sqrt(Dh));
        }
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t <= pos; t++) {
          const p = this.roundProbs ? roundF16(e[t]! / sum) : e[t]! / sum;
          for (let d = 0; d < Dh; d++) att[h * Dh + d]! += p * vc[(t * Hkv + kvh) * Dh + d]!;
        }
      }
      const o = this.bitLinear(this.rmsNorm(att, L.attn_sub_norm), L.o);
      x = x.map((v2, i) => v2 + o[i]!);
      // feed-forward
      const m = this.rmsNorm(x, L.ffn_norm);
      const g = this.bitLinear(m, L.gate);
      const u = this.bitLinear(m, L.up);
      const a = g.map((gi, i) => (c.activation === 'relu2' ? Math.max(gi, 0) ** 2 : gi / (1 + Math.exp(-gi))) * u[i]!);
      const down = this.bitLinear(this.rmsNorm(a, L.ffn_sub_norm), L.down);
      x = x.map((v2, i) => v2 + down[i]!);
    }
    const h = this.rmsNorm(x, this.outputNorm).map(roundF16);
    const logits = new Float64Array(c.vocab);
    for (let t = 0; t < c.vocab; t++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += this.embd[t * D + d]! * h[d]!;
      logits[t] = s;
    }
    return logits;
  }
}
