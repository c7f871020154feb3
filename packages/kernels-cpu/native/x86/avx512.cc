// AVX-512 path (F, BW, VL, VNNI; compiled with those flags into its own static library, never into the glue).
// Ternary: vpdpbusd multiplies 64 unsigned codes by 64 signed int8 activations and sums groups of four into i32.
#include <immintrin.h>

#include "../common.h"

namespace trine {

namespace {

// One TB256 block of R rows × T tokens: decode each row's 64 bytes into 4 × 64 codes and feed vpdpbusd.
template <int S>
inline __m512i codes(__m512i v, __m512i m3) {
  return _mm512_and_si512(S == 0 ? v : _mm512_srli_epi16(v, 2 * S), m3);
}

template <int R, int T>
inline void tile(const uint8_t* w, int64_t row_bytes, const int8_t* q, int64_t kp, int64_t b0, int64_t b1,
                 int32_t sums[R][T]) {
  __m512i acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_si512();
  const __m512i m3 = _mm512_set1_epi8(3);
  for (int64_t b = b0; b < b1; b++) {
    __m512i wv[R];
    for (int r = 0; r < R; r++) {
      const uint8_t* p = w + r * row_bytes + b * kBlockBytes;
      // The next R-row tile is the next stretch of the same contiguous stream: fetch it one tile ahead.
      _mm_prefetch(reinterpret_cast<const char*>(p + R * row_bytes), _MM_HINT_T0);
      wv[r] = _mm512_loadu_si512(p);
    }
    const int8_t* qb = q + b * kBlockWeights;
#define TRINE_STAGE(S)                                                                  \
  {                                                                                     \
    __m512i c[R];                                                                       \
    for (int r = 0; r < R; r++) c[r] = codes<S>(wv[r], m3);                             \
    for (int t = 0; t < T; t++) {                                                       \
      const __m512i a = _mm512_loadu_si512(qb + t * kp + S * 64);                       \
      for (int r = 0; r < R; r++) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], c[r], a);  \
    }                                                                                   \
  }
    TRINE_STAGE(0)
    TRINE_STAGE(1)
    TRINE_STAGE(2)
    TRINE_STAGE(3)
#undef TRINE_STAGE
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) sums[r][t] = _mm512_reduce_add_epi32(acc[r][t]);
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
  for (; t0 + 4 <= nt; t0 += 4) rows_tokens<R, 4>(w, q, qsum, t0, n, groups, acc, acc_stride);
  switch (nt - t0) {
    case 3: rows_tokens<R, 3>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
    case 2: rows_tokens<R, 2>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
    case 1: rows_tokens<R, 1>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
    default: break;
  }
}

void ternary_acc_avx512(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                        int groups, int32_t* acc, int64_t acc_stride) {
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) rows_all_tokens<4>(w, q, qsum, nt, n, groups, acc, acc_stride);
  for (; n < n1; n++) rows_all_tokens<1>(w, q, qsum, nt, n, groups, acc, acc_stride);
}

// ---- LM head: R rows × T tokens of f32 FMAs; rows are streamed once per call whatever T is.
template <typename Load, int R, int T>
inline void lm_tile(Load load, int64_t k, int64_t r, const float* x, float* out, int64_t out_stride, int t0) {
  __m512 acc[R][T];
  for (int i = 0; i < R; i++)
    for (int t = 0; t < T; t++) acc[i][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 wv[R];
    for (int j = 0; j < R; j++) wv[j] = load(r + j, i, static_cast<__mmask16>(0xffff));
    for (int t = 0; t < T; t++) {
      const __m512 xv = _mm512_loadu_ps(x + (t0 + t) * k + i);
      for (int j = 0; j < R; j++) acc[j][t] = _mm512_fmadd_ps(wv[j], xv, acc[j][t]);
    }
  }
  if (i < k) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k - i)) - 1);
    __m512 wv[R];
    for (int j = 0; j < R; j++) wv[j] = load(r + j, i, m);
    for (int t = 0; t < T; t++) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + (t0 + t) * k + i);
      for (int j = 0; j < R; j++) acc[j][t] = _mm512_fmadd_ps(wv[j], xv, acc[j][t]);
    }
  }
  for (int j = 0; j < R; j++)
    for (int t = 0; t < T; t++) out[(t0 + t) * out_stride + r + j] = _mm512_reduce_add_ps(acc[j][t]);
}

template <typename Load, int R>
inline void lm_rows(Load load, int64_t k, int64_t r, const float* x, int nt, float* out, int64_t out_stride) {
  int t0 = 0;
  for (; t0 + 4 <= nt; t0 += 4) lm_tile<Load, R, 4>(load, k, r, x, out, out_stride, t0);
  switch (nt - t0) {
    case 3: lm_tile<Load, R, 3>(load, k, r, x, out, out_stride, t0); break;
    case 2: lm_tile<Load, R, 2>(load, k, r, x, out, out_stride, t0); break;
    case 1: lm_tile<Load, R, 1>(load, k, r, x, out, out_stride, t0); break;
    default: break;
  }
}

template <typename Load>
inline void lm_range(Load load, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                     int64_t out_stride) {
  int64_t r = r0;
  if (nt == 1) {
    for (; r + 8 <= r1; r += 8) lm_tile<Load, 8, 1>(load, k, r, x, out, out_stride, 0);
  } else {
    for (; r + 4 <= r1; r += 4) lm_rows<Load, 4>(load, k, r, x, nt, out, out_stride);
  }
  for (; r < r1; r++) lm_rows<Load, 1>(load, k, r, x, nt, out, out_stride);
}

void lm_f16_avx512(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                   int64_t out_stride) {
  auto load = [w, k](int64_t r, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + r * k + i));
  };
  lm_range(load, k, r0, r1, x, nt, out, out_stride);
}

void lm_f32_avx512(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                   int64_t out_stride) {
  auto load = [w, k](int64_t r, int64_t i, __mmask16 m) { return _mm512_maskz_loadu_ps(m, w + r * k + i); };
  lm_range(load, k, r0, r1, x, nt, out, out_stride);
}

void lm_q8_avx512(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const float* x, int nt,
                  float* out, int64_t out_stride) {
  auto load = [w, k](int64_t r, int64_t i, __mmask16 m) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, w + r * k + i)));
  };
  lm_range(load, k, r0, r1, x, nt, out, out_stride);
  for (int t = 0; t < nt; t++)
    for (int64_t r = r0; r < r1; r++) out[t * out_stride + r] *= scales[r];
}

// Same rule as quant_per_token_scalar: the f32 maximum of |x| is the same number as the double one, the product is
// f32, cvtps rounds half to even (default MXCSR) and the signed-saturating narrow is the clamp.
float quant_per_token_avx512(const float* x, int64_t k, int8_t* q) {
  __m512 mx = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  float m = _mm512_reduce_max_ps(mx);
  for (; i < k; i++) m = m > __builtin_fabsf(x[i]) ? m : __builtin_fabsf(x[i]);
  const double md = static_cast<double>(m) > 1e-5 ? static_cast<double>(m) : 1e-5;
  const float s = static_cast<float>(127.0 / md);
  const __m512 sv = _mm512_set1_ps(s);
  for (i = 0; i + 16 <= k; i += 16) {
    const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), sv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtsepi32_epi8(v));
  }
  for (; i < k; i++) {
    const float v = __builtin_nearbyintf(x[i] * s);
    q[i] = static_cast<int8_t>(v > 127.f ? 127.f : (v < -128.f ? -128.f : v));
  }
  return s;
}

float dot_f16_avx512(const float* a, const uint16_t* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i))), acc);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, b + i)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void axpy_f16_avx512(float* y, float a, const uint16_t* x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

}  // namespace

const KernelTable kAvx512Table = {"avx512vnni",    ternary_acc_avx512,     lm_f16_avx512,  lm_f32_avx512,
                                  lm_q8_avx512,    quant_per_token_avx512, dot_f16_avx512, axpy_f16_avx512};

}  // namespace trine
