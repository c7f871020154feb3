// AVX2 path (+FMA, F16C; its own static library). Ternary: maddubs multiplies 32 unsigned codes by 32 signed int8
// activations into i16 pairs (|sum| ≤ 2·2·128 = 512, no saturation); eight of them per 256-block still fit i16
// (≤ 4096), then madd with ones widens to i32.
#include <immintrin.h>

#include "../common.h"

namespace trine {

namespace {

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int S>
inline __m256i codes(__m256i v, __m256i m3) {
  return _mm256_and_si256(S == 0 ? v : _mm256_srli_epi16(v, 2 * S), m3);
}

template <int R, int T>
inline void tile(const uint8_t* w, int64_t row_bytes, const int8_t* q, int64_t kp, int64_t b0, int64_t b1,
                 int32_t sums[R][T]) {
  __m256i acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_si256();
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = b0; b < b1; b++) {
    __m256i acc16[R][T];
    for (int r = 0; r < R; r++)
      for (int t = 0; t < T; t++) acc16[r][t] = _mm256_setzero_si256();
    const int8_t* qb = q + b * kBlockWeights;
    for (int h = 0; h < 2; h++) {
      __m256i wv[R];
      for (int r = 0; r < R; r++) {
        const uint8_t* p = w + r * row_bytes + b * kBlockBytes + h * 32;
        _mm_prefetch(reinterpret_cast<const char*>(p + R * row_bytes), _MM_HINT_T0);
        wv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      }
#define TRINE_STAGE(S)                                                                                   \
  {                                                                                                      \
    __m256i c[R];                                                                                        \
    for (int r = 0; r < R; r++) c[r] = codes<S>(wv[r], m3);                                              \
    for (int t = 0; t < T; t++) {                                                                        \
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb + t * kp + S * 64 + h * 32)); \
      for (int r = 0; r < R; r++) acc16[r][t] = _mm256_add_epi16(acc16[r][t], _mm256_maddubs_epi16(c[r], a)); \
    }                                                                                                    \
  }
      TRINE_STAGE(0)
      TRINE_STAGE(1)
      TRINE_STAGE(2)
      TRINE_STAGE(3)
#undef TRINE_STAGE
    }
    for (int r = 0; r < R; r++)
      for (int t = 0; t < T; t++) acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(acc16[r][t], ones));
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) sums[r][t] = hsum_epi32(acc[r][t]);
}

template <int R, int T>
inline void rows_tokens(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int t0, int64_t n, int groups,
                        int32_t* acc, int64_t acc_stride) {
  const int64_t bpg = w.kp / kBlockWeights / groups;
  for (int g = 0; g < groups; g++) {
    int32_t sums[R][T];
    tile<R, T>(w.packed + n * w.row_bytes, w.row_bytes, q + t0 * w.kp, w.kp, g * bpg, (g + 1) * bpg, sums);
    for (int r = 0; r < R; r++)
      for (int t = 0; t < T; t++)
        acc[(t0 + t) * acc_stride + (n + r) * groups + g] = sums[r][t] - qsum[(t0 + t) * groups + g];
  }
}

template <int R>
inline void rows_all_tokens(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n, int groups,
                            int32_t* acc, int64_t acc_stride) {
  int t0 = 0;
  for (; t0 + 2 <= nt; t0 += 2) rows_tokens<R, 2>(w, q, qsum, t0, n, groups, acc, acc_stride);
  if (t0 < nt) rows_tokens<R, 1>(w, q, qsum, t0, n, groups, acc, acc_stride);
}

void ternary_acc_avx2(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                      int groups, int32_t* acc, int64_t acc_stride) {
  int64_t n = n0;
  for (; n + 2 <= n1; n += 2) rows_all_tokens<2>(w, q, qsum, nt, n, groups, acc, acc_stride);
  for (; n < n1; n++) rows_all_tokens<1>(w, q, qsum, nt, n, groups, acc, acc_stride);
}

// ---- LM head: R rows × T tokens of 8-wide FMAs; the k tail is finished in scalar.
template <typename Load, typename Scalar, int R, int T>
inline void lm_tile(Load load, Scalar scalar, int64_t k, int64_t r, const float* x, float* out, int64_t out_stride,
                    int t0) {
  __m256 acc[R][T];
  for (int j = 0; j < R; j++)
    for (int t = 0; t < T; t++) acc[j][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[R];
    for (int j = 0; j < R; j++) wv[j] = load(r + j, i);
    for (int t = 0; t < T; t++) {
      const __m256 xv = _mm256_loadu_ps(x + (t0 + t) * k + i);
      for (int j = 0; j < R; j++) acc[j][t] = _mm256_fmadd_ps(wv[j], xv, acc[j][t]);
    }
  }
  for (int j = 0; j < R; j++)
    for (int t = 0; t < T; t++) {
      float s = hsum_ps(acc[j][t]);
      for (int64_t ii = i; ii < k; ii++) s += scalar(r + j, ii) * x[(t0 + t) * k + ii];
      out[(t0 + t) * out_stride + r + j] = s;
    }
}

template <typename Load, typename Scalar, int R>
inline void lm_rows(Load load, Scalar scalar, int64_t k, int64_t r, const float* x, int nt, float* out,
                    int64_t out_stride) {
  int t0 = 0;
  for (; t0 + 2 <= nt; t0 += 2) lm_tile<Load, Scalar, R, 2>(load, scalar, k, r, x, out, out_stride, t0);
  if (t0 < nt) lm_tile<Load, Scalar, R, 1>(load, scalar, k, r, x, out, out_stride, t0);
}

template <typename Load, typename Scalar>
inline void lm_range(Load load, Scalar scalar, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                     int64_t out_stride) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) lm_rows<Load, Scalar, 4>(load, scalar, k, r, x, nt, out, out_stride);
  for (; r < r1; r++) lm_rows<Load, Scalar, 1>(load, scalar, k, r, x, nt, out, out_stride);
}

void lm_f16_avx2(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                 int64_t out_stride) {
  auto load = [w, k](int64_t r, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + r * k + i)));
  };
  auto scalar = [w, k](int64_t r, int64_t i) { return f16_to_f32(w[r * k + i]); };
  lm_range(load, scalar, k, r0, r1, x, nt, out, out_stride);
}

void lm_f32_avx2(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                 int64_t out_stride) {
  auto load = [w, k](int64_t r, int64_t i) { return _mm256_loadu_ps(w + r * k + i); };
  auto scalar = [w, k](int64_t r, int64_t i) { return w[r * k + i]; };
  lm_range(load, scalar, k, r0, r1, x, nt, out, out_stride);
}

void lm_q8_avx2(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const float* x, int nt,
                float* out, int64_t out_stride) {
  auto load = [w, k](int64_t r, int64_t i) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + r * k + i))));
  };
  auto scalar = [w, k](int64_t r, int64_t i) { return static_cast<float>(w[r * k + i]); };
  lm_range(load, scalar, k, r0, r1, x, nt, out, out_stride);
  for (int t = 0; t < nt; t++)
    for (int64_t r = r0; r < r1; r++) out[t * out_stride + r] *= scales[r];
}

float quant_per_token_avx2(const float* x, int64_t k, int8_t* q) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 mx = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(x + i), absmask));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float m = _mm_cvtss_f32(m4);
  for (; i < k; i++) m = m > __builtin_fabsf(x[i]) ? m : __builtin_fabsf(x[i]);
  const double md = static_cast<double>(m) > 1e-5 ? static_cast<double>(m) : 1e-5;
  const float s = static_cast<float>(127.0 / md);
  const __m256 sv = _mm256_set1_ps(s);
  for (i = 0; i + 32 <= k; i += 32) {
    const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv));
    const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), sv));
    const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), sv));
    const __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), sv));
    // packs work per 128-bit lane; the final permute restores element order.
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i v = _mm256_packs_epi16(ab, cd);
    const __m256i fixed = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), fixed);
  }
  for (; i < k; i++) {
    const float v = __builtin_nearbyintf(x[i] * s);
    q[i] = static_cast<int8_t>(v > 127.f ? 127.f : (v < -128.f ? -128.f : v));
  }
  return s;
}

float dot_f16_avx2(const float* a, const uint16_t* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))), acc);
  float s = hsum_ps(acc);
  for (; i < n; i++) s += a[i] * f16_to_f32(b[i]);
  return s;
}

void axpy_f16_avx2(float* y, float a, const uint16_t* x, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * f16_to_f32(x[i]);
}

}  // namespace

const KernelTable kAvx2Table = {"avx2",     ternary_acc_avx2,     lm_f16_avx2,  lm_f32_avx2,
                                lm_q8_avx2, quant_per_token_avx2, dot_f16_avx2, axpy_f16_avx2};

}  // namespace trine
