/**
 * NMSE tolerances, one per kind of float result, with why. Integer results (accumulators, int8 activations, argmax,
 * greedy tokens) are compared exactly and have no entry here. ggml's test-backend-ops uses 1e-7 for most ops and
 * 5e-4 for flash attention; ours are tighter where the spec pins the f32 arithmetic step by step.
 */
export const TOL = {
  /** Copies and widenings (embedding rows, f16 → f32): any difference is a bug; the slack only forgives -0/+0. */
  copy: 1e-14,
  /** One f32 add per element: exact in IEEE arithmetic. */
  add: 1e-14,
  /** Activation scales: a max and one division, pinned in the spec. */
  actScale: 1e-12,
  /** A sum of squares over D, order left to the backend (SIMD lanes, tree reductions). */
  rmsNorm: 1e-10,
  /** Exact integer accumulators, then one or two f32 multiplies (per_token) or an f32 sum over K/256 blocks. */
  ternaryMatmul: 1e-10,
  /** sin/cos of position·θ^(−2i/d): the reference follows ggml's f32 angle recurrence; a backend may build the
   *  angle another way (directly, in f64), which moves it by an ulp of the angle. */
  rope: 1e-9,
  /** At position 32767 an f32 angle's ulp is 2–4e-3 rad: a backend computing pos·θ^(−2i/d) directly instead of
   *  the recurrence lands near 3e-7 (kernels-cpu measured 3.2e-7). Wrong pairing or position gives NMSE near 1. */
  ropeLargePosition: 1e-6,
  /** relu(x)² is two multiplies; silu needs exp, whose last bits differ between math libraries. */
  relu2: 1e-12,
  silu: 1e-9,
  /** Dot products of length Dh, a softmax (exp) and a weighted sum over up to thousands of positions. */
  attentionF32: 1e-8,
  /** f16 cache: Q (and optionally softmax probabilities) are rounded to f16, so one flipped rounding moves a
   *  probability by one f16 ulp (2⁻¹¹ relative); allow a few of those. */
  attentionF16: 1e-6,
  /** Dot products of length D over V rows, f32 accumulators in a backend-chosen order. */
  lmHead: 1e-9,
  /** q8: every backend quantizes the matrix at load with core's shared rule (reference/q8.ts), so only summation
   *  order differs; the slack allows a backend that rounds one row's scale or one weight differently. */
  lmHeadQ8: 1e-6,
  /**
   * Whole model, logits after a few tokens. Int8 activation rounding makes the model chaotic at the ulp level:
   * nudging every rmsNorm output by 1e-6 relative (a few ulps, what a different summation order gives) moves these
   * logits by NMSE up to 1.1e-3 (max |Δ| 0.27); structural bugs (rope pairing, no rope, non-causal attention)
   * give 0.2–2. Numerical details below the noise (e.g. f16 probability rounding) are the op cases' job.
   */
  modelLogits: 1e-2,
  /**
   * Greedy decoding may take a different token only where the reference's top two logits are this close: the
   * same noise moves logits by up to ~0.27, and the fixtures call gaps below 0.25 near-ties (fixtures README §7).
   * The logits up to and including that step are still held to modelLogits.
   */
  greedyTieGap: 0.25,
} as const;
