// AVX2 path (+FMA, F16C; its own static library). Ternary over T16 tiles, 8 rows per register (see
// group_tokens).
#include <immintrin.h>

#include "../common.h"

namespace trine {

namespace {

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t load4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// Stores 8 row sums (lane i = row first + i) minus the activation sum, skipping rows ≥ min(n1, N).
inline void store_rows(__m256i sums, int32_t sub, const TernaryMat& w, int64_t first, int64_t n1, int groups, int g,
                       int32_t* out) {
  const int64_t lim = (n1 < w.rows ? n1 : w.rows) - first;
  alignas(32) int32_t tmp[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), _mm256_sub_epi32(sums, _mm256_set1_epi32(sub)));
  for (int64_t i = 0; i < lim && i < 8; i++) out[(first + i) * groups + g] = tmp[i];
}

// One 16-row group against T tokens over tiles [k_begin, k_end). Each 32-byte half of a tile is 8 rows × 4 codes
// per 32-bit lane; maddubs with the four activations broadcast gives i16 pairs (|·| ≤ 2·2·128), the four stages of
// a tile are summed in i16 (≤ 2048) and madd with ones widens to one i32 per row.
template <int T>
inline void group_tokens(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                         __m256i out[2][T]) {
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[2][T];
  for (int h = 0; h < 2; h++)
    for (int t = 0; t < T; t++) acc[h][t] = _mm256_setzero_si256();
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const uint8_t* tile = w.tile(gi, k0);
    _mm_prefetch(reinterpret_cast<const char*>(tile + 2048), _MM_HINT_T0);
    for (int h = 0; h < 2; h++) {
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(tile + 32 * h));
      const __m256i c0 = _mm256_and_si256(v, m3), c1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3),
                    c2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3), c3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
      for (int t = 0; t < T; t++) {
        const int8_t* qt = q + t * w.kp + k0;
        __m256i s16 = _mm256_maddubs_epi16(c0, _mm256_set1_epi32(load4(qt)));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c1, _mm256_set1_epi32(load4(qt + 4))));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c2, _mm256_set1_epi32(load4(qt + 8))));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c3, _mm256_set1_epi32(load4(qt + 12))));
        acc[h][t] = _mm256_add_epi32(acc[h][t], _mm256_madd_epi16(s16, ones));
      }
    }
  }
  for (int h = 0; h < 2; h++)
    for (int t = 0; t < T; t++) out[h][t] = acc[h][t];
}

template <int T>
inline void run(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int t0, int64_t gi, int64_t n1, int groups,
                int32_t* acc, int64_t acc_stride) {
  const int64_t cols = w.kp / groups;
  for (int g = 0; g < groups; g++) {
    __m256i sums[2][T];
    group_tokens<T>(w, q + t0 * w.kp, gi, g * cols, (g + 1) * cols, sums);
    for (int t = 0; t < T; t++)
      for (int h = 0; h < 2; h++)
        store_rows(sums[h][t], qsum[(t0 + t) * groups + g], w, gi * kTileRows + 8 * h, n1, groups, g,
                   acc + (t0 + t) * acc_stride);
  }
}

void ternary_acc_avx2(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                      int groups, int32_t* acc, int64_t acc_stride) {
  for (int64_t gi = n0 / kTileRows; gi * kTileRows < n1; gi++) {
    int t0 = 0;
    for (; t0 + 4 <= nt; t0 += 4) run<4>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 + 2 <= nt; t0 += 2) run<2>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 < nt; t0++) run<1>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
  }
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
#pragma GCC unroll 16
  for (int j = 0; j < R; j++)
#pragma GCC unroll 16
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

// q8 LM head: int8 weights widened to int16, madd with the int16 activations, exact i32 per 256-column block.
void lm_q8_avx2(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const int16_t* x16,
                int64_t kx, const float* xinv, int nt, float* out, int64_t out_stride) {
  for (int64_t r = r0; r < r1; r++)
    for (int t = 0; t < nt; t++) {
      const int8_t* wr = w + r * k;
      const int16_t* xt = x16 + t * kx;
      __m256 facc = _mm256_setzero_ps();
      float tail = 0.f;
      for (int64_t b = 0; b < k; b += kQ8Block) {
        const int64_t end = b + kQ8Block < k ? b + kQ8Block : k;
        __m256i iacc = _mm256_setzero_si256();
        int64_t i = b;
        for (; i + 16 <= end; i += 16) {
          const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wr + i)));
          iacc = _mm256_add_epi32(iacc, _mm256_madd_epi16(wv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt + i))));
        }
        int32_t rest = 0;
        for (; i < end; i++) rest += wr[i] * xt[i];
        facc = _mm256_add_ps(facc, _mm256_cvtepi32_ps(iacc));
        tail += static_cast<float>(rest);
      }
      out[t * out_stride + r] = (hsum_ps(facc) + tail) * xinv[t] * scales[r];
    }
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

void scores_f16_avx2(const float* q, const uint16_t* k, int64_t dh, int64_t n, float* out) {
  for (int64_t p = 0; p < n; p++) {
    const uint16_t* kr = k + p * dh;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= dh; i += 8)
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kr + i))), acc);
    float s = hsum_ps(acc);
    for (; i < dh; i++) s += q[i] * f16_to_f32(kr[i]);
    out[p] = s;
  }
}

void wsum_f16_avx2(const float* probs, const uint16_t* v, int64_t dh, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= dh; i += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t p = 0; p < n; p++)
      acc = _mm256_fmadd_ps(_mm256_set1_ps(probs[p]), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + p * dh + i))), acc);
    _mm256_storeu_ps(out + i, acc);
  }
  for (; i < dh; i++) {
    float s = 0.f;
    for (int64_t p = 0; p < n; p++) s += probs[p] * f16_to_f32(v[p * dh + i]);
    out[i] = s;
  }
}

void to_f16_avx2(const float* in, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) out[i] = f32_to_f16(in[i]);
}

uint64_t read_sum_avx2(const uint8_t* p, int64_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (int64_t i = 0; i < n; i += 128) {
    a = _mm256_add_epi64(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_add_epi64(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t l[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(l), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
  return l[0] + l[1] + l[2] + l[3];
}

}  // namespace

const KernelTable kAvx2Table = {"avx2",     ternary_acc_avx2,     lm_f16_avx2,  lm_f32_avx2,
                                lm_q8_avx2, quant_per_token_avx2, quant_block256_scalar, scores_f16_avx2, wsum_f16_avx2, to_f16_avx2, read_sum_avx2};

}  // namespace trine
