// ARM NEON path, baseline AArch64 (no extension: every ARMv8-A CPU runs it; built with the glue's flags). Holds
// the float kernels and quantizers every ARM table shares, and the ternary kernel for CPUs without SDOT.
//
// Bit-exactness with generic/scalar.cc is the contract here, floats included: each output is summed by one vector
// lane in the scalar path's order (vectors run across rows, tokens or output dims, never along the sum), with a
// separate multiply and add (-ffp-contract=off, as the scalar path is built). So no FP16 arithmetic either:
// f16 → f32 widening (fcvtl, exact and baseline) is all the f16 LM head and KV cache use; FEAT_FP16 multiplies
// would round every product to f16 and change the logits.
#if defined(__aarch64__)
#include "neon.h"

#include <cmath>
#include <cstring>

namespace trine {
namespace neon {

namespace {

inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- ternary without SDOT: vmull_s8 of codes × the four activations (i16, |·| ≤ 4 · 2 · 128 after the four
// stages), vpadalq_s16 widens pairs into i32 (lo: rows 0-1 of a quarter, hi: rows 2-3, two lanes per row), and
// one vpaddq at the end gives a lane per row. T tokens share each decoded tile.
template <int T>
inline void tile_tokens(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                        int32_t out[T][kTileRows]) {
  int32x4_t lo[T][4], hi[T][4];
  for (int t = 0; t < T; t++)
    for (int r = 0; r < 4; r++) lo[t][r] = hi[t][r] = vdupq_n_s32(0);
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const uint8_t* tile = w.tile(gi, k0);
    int8x8_t a[T][4];  // stage s: q[k0 + 4s .. k0 + 4s + 3] twice (one row pair per half of a quarter)
    for (int t = 0; t < T; t++)
      for (int s = 0; s < 4; s++) a[t][s] = vreinterpret_s8_s32(vdup_n_s32(load4(q + t * w.kp + k0 + 4 * s)));
    for (int r = 0; r < 4; r++) {
      int8x16_t c[4];
      decode_quarter(vld1q_u8(tile + 16 * r), c);
      for (int t = 0; t < T; t++) {
        int16x8_t pl = vmull_s8(vget_low_s8(c[0]), a[t][0]);
        int16x8_t ph = vmull_s8(vget_high_s8(c[0]), a[t][0]);
        for (int s = 1; s < 4; s++) {
          pl = vmlal_s8(pl, vget_low_s8(c[s]), a[t][s]);
          ph = vmlal_s8(ph, vget_high_s8(c[s]), a[t][s]);
        }
        lo[t][r] = vpadalq_s16(lo[t][r], pl);
        hi[t][r] = vpadalq_s16(hi[t][r], ph);
      }
    }
  }
  for (int t = 0; t < T; t++)
    for (int r = 0; r < 4; r++) vst1q_s32(out[t] + 4 * r, vpaddq_s32(lo[t][r], hi[t][r]));
}

void ternary_acc_neon(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                      int groups, int32_t* acc, int64_t acc_stride) {
  for (int64_t gi = n0 / kTileRows; gi * kTileRows < n1; gi++) {
    int t0 = 0;
    for (; t0 + 2 <= nt; t0 += 2) run_tokens<2, tile_tokens<2>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 < nt; t0++) run_tokens<1, tile_tokens<1>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
  }
}

// ---- LM head (and attention scores): 4Q rows × T tokens. Four columns of four rows are loaded and transposed,
// so lane j of col[c] is row j's weight at column i + c; each lane then adds its row's products in column order.
inline float32x4_t load4f(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t load4f(const float* p) { return vld1q_f32(p); }
inline float widen(uint16_t h) { return f16_to_f32(h); }
inline float widen(float f) { return f; }

inline void transpose4(float32x4_t r0, float32x4_t r1, float32x4_t r2, float32x4_t r3, float32x4_t c[4]) {
  const float32x4_t t0 = vtrn1q_f32(r0, r1), t1 = vtrn2q_f32(r0, r1), t2 = vtrn1q_f32(r2, r3),
                    t3 = vtrn2q_f32(r2, r3);
  c[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  c[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
  c[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  c[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

template <typename E, int Q, int T>
inline void lm_block(const E* w, int64_t k, int64_t r, const float* x, int t0, float* out, int64_t out_stride) {
  float32x4_t acc[Q][T];
  for (int b = 0; b < Q; b++)
    for (int t = 0; t < T; t++) acc[b][t] = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    float32x4_t col[Q][4];
    for (int b = 0; b < Q; b++) {
      const E* p = w + (r + 4 * b) * k + i;
      transpose4(load4f(p), load4f(p + k), load4f(p + 2 * k), load4f(p + 3 * k), col[b]);
    }
    for (int t = 0; t < T; t++) {
      const float32x4_t xv = vld1q_f32(x + (t0 + t) * k + i);
      for (int b = 0; b < Q; b++) {
        acc[b][t] = vaddq_f32(acc[b][t], vmulq_laneq_f32(col[b][0], xv, 0));
        acc[b][t] = vaddq_f32(acc[b][t], vmulq_laneq_f32(col[b][1], xv, 1));
        acc[b][t] = vaddq_f32(acc[b][t], vmulq_laneq_f32(col[b][2], xv, 2));
        acc[b][t] = vaddq_f32(acc[b][t], vmulq_laneq_f32(col[b][3], xv, 3));
      }
    }
  }
  for (int b = 0; b < Q; b++)
    for (int t = 0; t < T; t++) {
      float s[4];
      vst1q_f32(s, acc[b][t]);
      for (int j = 0; j < 4; j++) {
        const int64_t row = r + 4 * b + j;
        for (int64_t ii = i; ii < k; ii++) s[j] += widen(w[row * k + ii]) * x[(t0 + t) * k + ii];
        out[(t0 + t) * out_stride + row] = s[j];
      }
    }
}

template <typename E>
inline void lm_range(const E* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                     int64_t out_stride) {
  int64_t r = r0;
  // Decode: 16 rows, four independent add chains (one chain is bound by the add latency, not by the loads).
  if (nt == 1)
    for (; r + 16 <= r1; r += 16) lm_block<E, 4, 1>(w, k, r, x, 0, out, out_stride);
  for (; r + 8 <= r1; r += 8) {
    int t0 = 0;
    for (; t0 + 4 <= nt; t0 += 4) lm_block<E, 2, 4>(w, k, r, x, t0, out, out_stride);
    for (; t0 + 2 <= nt; t0 += 2) lm_block<E, 2, 2>(w, k, r, x, t0, out, out_stride);
    for (; t0 < nt; t0++) lm_block<E, 2, 1>(w, k, r, x, t0, out, out_stride);
  }
  for (; r + 4 <= r1; r += 4)
    for (int t = 0; t < nt; t++) lm_block<E, 1, 1>(w, k, r, x, t, out, out_stride);
  for (; r < r1; r++)  // fewer than four rows left: the scalar loop
    for (int t = 0; t < nt; t++) {
      float s = 0.f;
      for (int64_t i = 0; i < k; i++) s += widen(w[r * k + i]) * x[t * k + i];
      out[t * out_stride + r] = s;
    }
}

// ---- q8 LM head: int8 weights widened to i16, smlal with the i16 activations into i32 (exact per block); the
// block sums are added as f32 in block order, as the scalar path does.
template <int R>
inline void q8_rows(const int8_t* w, const float* scales, int64_t k, int64_t r, const int16_t* x16, int64_t kx,
                    const float* xinv, int t, float* out, int64_t out_stride) {
  const int16_t* xt = x16 + t * kx;
  float sum[R];
  for (int j = 0; j < R; j++) sum[j] = 0.f;
  for (int64_t b = 0; b < k; b += kQ8Block) {
    const int64_t end = b + kQ8Block < k ? b + kQ8Block : k;
    int32x4_t acc[R];
    for (int j = 0; j < R; j++) acc[j] = vdupq_n_s32(0);
    int64_t i = b;
    for (; i + 8 <= end; i += 8) {
      const int16x8_t xv = vld1q_s16(xt + i);
      for (int j = 0; j < R; j++) {
        const int16x8_t wv = vmovl_s8(vld1_s8(w + (r + j) * k + i));
        acc[j] = vmlal_s16(acc[j], vget_low_s16(wv), vget_low_s16(xv));
        acc[j] = vmlal_high_s16(acc[j], wv, xv);
      }
    }
    for (int j = 0; j < R; j++) {
      int32_t block = vaddvq_s32(acc[j]);
      for (int64_t ii = i; ii < end; ii++) block += w[(r + j) * k + ii] * xt[ii];  // rows are k long: no overread
      sum[j] += static_cast<float>(block);
    }
  }
  for (int j = 0; j < R; j++) out[t * out_stride + r + j] = sum[j] * xinv[t] * scales[r + j];
}

}  // namespace

void lm_f16(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
            int64_t out_stride) {
  lm_range(w, k, r0, r1, x, nt, out, out_stride);
}

void lm_f32(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
            int64_t out_stride) {
  lm_range(w, k, r0, r1, x, nt, out, out_stride);
}

void lm_q8(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const int16_t* x16, int64_t kx,
           const float* xinv, int nt, float* out, int64_t out_stride) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4)
    for (int t = 0; t < nt; t++) q8_rows<4>(w, scales, k, r, x16, kx, xinv, t, out, out_stride);
  for (; r < r1; r++)
    for (int t = 0; t < nt; t++) q8_rows<1>(w, scales, k, r, x16, kx, xinv, t, out, out_stride);
}

// Scores are the f16 LM head with positions for rows and one token: out[p] = Σ_i q[i]·f16(k[p, i]) in i order.
void scores_f16(const float* q, const uint16_t* k, int64_t dh, int64_t n, float* out) {
  lm_range(k, dh, 0, n, q, 1, out, 0);
}

// Vectors run across output dims (16 at a time held over every position); each dim adds positions in order.
void wsum_f16(const float* probs, const uint16_t* v, int64_t dh, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= dh; i += 16) {
    float32x4_t acc[4] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
    for (int64_t p = 0; p < n; p++) {
      const float32x4_t pb = vdupq_n_f32(probs[p]);
      for (int c = 0; c < 4; c++) acc[c] = vaddq_f32(acc[c], vmulq_f32(pb, load4f(v + p * dh + i + 4 * c)));
    }
    for (int c = 0; c < 4; c++) vst1q_f32(out + i + 4 * c, acc[c]);
  }
  for (; i + 4 <= dh; i += 4) {
    float32x4_t acc = vdupq_n_f32(0.f);
    for (int64_t p = 0; p < n; p++) acc = vaddq_f32(acc, vmulq_f32(vdupq_n_f32(probs[p]), load4f(v + p * dh + i)));
    vst1q_f32(out + i, acc);
  }
  for (; i < dh; i++) {
    float s = 0.f;
    for (int64_t p = 0; p < n; p++) s += probs[p] * f16_to_f32(v[p * dh + i]);
    out[i] = s;
  }
}

// fcvtn rounds to nearest even like f32_to_f16; only NaNs differ (fcvtn keeps payload bits, f32_to_f16 gives the
// quiet NaN 0x7e00 with the sign), so they are patched.
void to_f16(const float* in, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t f = vld1q_f32(in + i);
    const uint16x4_t h = vreinterpret_u16_f16(vcvt_f16_f32(f));
    const uint16x4_t nan = vmovn_u32(vmvnq_u32(vceqq_f32(f, f)));
    const uint16x4_t qnan = vorr_u16(vand_u16(vshrn_n_u32(vreinterpretq_u32_f32(f), 16), vdup_n_u16(0x8000)),
                                     vdup_n_u16(0x7e00));
    vst1_u16(out + i, vbsl_u16(nan, qnan, h));
  }
  for (; i < n; i++) out[i] = f32_to_f16(in[i]);
}

// Same rule as quant_per_token_scalar: the f32 maximum of |x| is the double one (fmaxnm skips NaN like fmax),
// the product is f32, fcvtns rounds half to even and the two saturating narrows are the clamp to [-128, 127].
float quant_per_token(const float* x, int64_t k, int8_t* q) {
  float32x4_t mx = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) mx = vmaxnmq_f32(mx, vabsq_f32(vld1q_f32(x + i)));
  float m = vmaxnmvq_f32(mx);
  for (; i < k; i++) m = std::fmax(m, std::fabs(x[i]));
  const double md = static_cast<double>(m) > 1e-5 ? static_cast<double>(m) : 1e-5;
  const float s = static_cast<float>(127.0 / md);
  const float32x4_t sv = vdupq_n_f32(s);
  for (i = 0; i + 16 <= k; i += 16) {
    int16x8_t h[2];
    for (int j = 0; j < 2; j++) {
      const int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 8 * j), sv));
      const int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 8 * j + 4), sv));
      h[j] = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
    }
    vst1q_s8(q + i, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
  }
  for (; i < k; i++) {
    const float v = std::nearbyint(x[i] * s);
    q[i] = static_cast<int8_t>(v > 127.f ? 127.f : (v < -128.f ? -128.f : v));
  }
  return s;
}

// Same rule as quant_block256_scalar: m is the first element whose |x| is the maximum (the scalar loop keeps the
// first on ties), q = min(127, roundHalfEven(f32(iscale·x))); |iscale·x| ≤ 127 rounds to ≥ -127, so the
// saturating narrow clamps nothing else.
float quant_block256(const float* x, int8_t* q) {
  float32x4_t mx = vdupq_n_f32(0.f);
  for (int i = 0; i < 256; i += 4) mx = vmaxnmq_f32(mx, vabsq_f32(vld1q_f32(x + i)));
  const float amax = vmaxnmvq_f32(mx);
  if (amax == 0.f) {
    std::memset(q, 0, 256);
    return 0.f;
  }
  float m = 0.f;
  for (int i = 0; i < 256; i++)
    if (std::fabs(x[i]) == amax) {
      m = x[i];
      break;
    }
  const float iscale = -127.f / m;
  const float32x4_t sv = vdupq_n_f32(iscale);
  const int32x4_t top = vdupq_n_s32(127);
  for (int i = 0; i < 256; i += 16) {
    int16x8_t h[2];
    for (int j = 0; j < 2; j++) {
      const int32x4_t a = vminq_s32(vcvtnq_s32_f32(vmulq_f32(sv, vld1q_f32(x + i + 8 * j))), top);
      const int32x4_t b = vminq_s32(vcvtnq_s32_f32(vmulq_f32(sv, vld1q_f32(x + i + 8 * j + 4))), top);
      h[j] = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
    }
    vst1q_s8(q + i, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
  }
  return 1.f / iscale;
}

uint64_t read_sum(const uint8_t* p, int64_t n) {
  uint64x2_t a = vdupq_n_u64(0), b = a, c = a, d = a;
  for (int64_t i = 0; i < n; i += 64) {
    a = vaddq_u64(a, vreinterpretq_u64_u8(vld1q_u8(p + i)));
    b = vaddq_u64(b, vreinterpretq_u64_u8(vld1q_u8(p + i + 16)));
    c = vaddq_u64(c, vreinterpretq_u64_u8(vld1q_u8(p + i + 32)));
    d = vaddq_u64(d, vreinterpretq_u64_u8(vld1q_u8(p + i + 48)));
  }
  return vaddvq_u64(vaddq_u64(vaddq_u64(a, b), vaddq_u64(c, d)));
}

}  // namespace neon

const KernelTable kNeonTable = {"neon",           neon::ternary_acc_neon, neon::lm_f16,    neon::lm_f32,
                                neon::lm_q8,      neon::quant_per_token,  neon::quant_block256,
                                neon::scores_f16, neon::wsum_f16,         neon::to_f16,     neon::read_sum};

}  // namespace trine
#endif
