// AVX-512 path (F, BW, VL, VNNI; compiled with those flags into its own static library, never into the glue).
// Ternary: vpdpbusd multiplies 64 unsigned codes by 64 signed int8 activations and sums groups of four into i32.
#include <immintrin.h>

#include "../common.h"

namespace trine {

namespace {

// vpdpbusd through inline asm: acc += Σ4 u8(u) · s8(s). GCC 12 copies and spills accumulators around the
// _mm512_dpbusd_epi32 builtin inside unrolled loops; a "+v" operand keeps each accumulator in its register.
inline __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
  return acc;
}

// Decode (one token): shifting codes down costs a port-0 uop per 64 weights. Masking in place instead
// (v & (3 << 2s)) leaves code c scaled by 4^s (≤ 128, still a valid u8 for vpdpbusd), so each stage s keeps its
// own accumulator, divided back exactly at the end: Σ c·q = acc0 + acc1/4 + acc2/16 + acc3/64.
// Per row r: four accumulators (one per stage s). Written out with named variables: GCC keeps an array of
// __m512i accumulators on the stack inside the loop.
#define TRINE_GEMV_ROW(r, A0, A1, A2, A3)                                          \
  {                                                                                \
    const uint8_t* p = w + (r) * row_bytes + b * kBlockBytes;                     \
    _mm_prefetch(reinterpret_cast<const char*>(p + prefetch), _MM_HINT_T0);        \
    const __m512i v = _mm512_loadu_si512(p);                                       \
    A0 = dpbusd(A0, _mm512_and_si512(v, m0), a0);                     \
    A1 = dpbusd(A1, _mm512_and_si512(v, m1), a1);                     \
    A2 = dpbusd(A2, _mm512_and_si512(v, m2), a2);                     \
    A3 = dpbusd(A3, _mm512_and_si512(v, m3), a3);                     \
  }

// Every lane of the stage-s accumulator is a sum of multiples of 4^s, so the arithmetic shifts divide exactly.
inline int32_t combine(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
  return _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(s0, _mm512_srai_epi32(s1, 2)),
                                                  _mm512_add_epi32(_mm512_srai_epi32(s2, 4), _mm512_srai_epi32(s3, 6))));
}

template <int R>
inline void tile_gemv(const uint8_t* w, int64_t row_bytes, const int8_t* q, int64_t b0, int64_t b1, int32_t sums[R],
                      int64_t prefetch) {
  static_assert(R == 1 || R == 4, "tile_gemv handles 1 or 4 rows");
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8(static_cast<char>(0xc0));
  __m512i x00 = _mm512_setzero_si512(), x01 = x00, x02 = x00, x03 = x00;
  __m512i x10 = x00, x11 = x00, x12 = x00, x13 = x00;
  __m512i x20 = x00, x21 = x00, x22 = x00, x23 = x00;
  __m512i x30 = x00, x31 = x00, x32 = x00, x33 = x00;
  for (int64_t b = b0; b < b1; b++) {
    const int8_t* qb = q + b * kBlockWeights;
    const __m512i a0 = _mm512_loadu_si512(qb), a1 = _mm512_loadu_si512(qb + 64), a2 = _mm512_loadu_si512(qb + 128),
                  a3 = _mm512_loadu_si512(qb + 192);
    TRINE_GEMV_ROW(0, x00, x01, x02, x03)
    if (R == 4) {
      TRINE_GEMV_ROW(1, x10, x11, x12, x13)
      TRINE_GEMV_ROW(2, x20, x21, x22, x23)
      TRINE_GEMV_ROW(3, x30, x31, x32, x33)
    }
  }
  sums[0] = combine(x00, x01, x02, x03);
  if (R == 4) {
    sums[1 % R] = combine(x10, x11, x12, x13);
    sums[2 % R] = combine(x20, x21, x22, x23);
    sums[3 % R] = combine(x30, x31, x32, x33);
  }
}
#undef TRINE_GEMV_ROW

template <int R>
inline void rows_gemv(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t n, int groups, int32_t* acc,
                      int64_t prefetch) {
  const int64_t bpg = w.kp / kBlockWeights / groups;
  for (int g = 0; g < groups; g++) {
    int32_t sums[R];
    tile_gemv<R>(w.packed + n * w.row_bytes, w.row_bytes, q, g * bpg, (g + 1) * bpg, sums, prefetch);
    for (int r = 0; r < R; r++) acc[(n + r) * groups + g] = sums[r] - qsum[g];
  }
}

// Several tokens (prefill, batched decode): one weight row against T token rows with the same masked stages, so
// a row's 64-byte block is loaded once for T tokens and no shifts are spent; 4·T accumulators.
template <int T>
inline void tile_gemm(const uint8_t* row, const int8_t* q, int64_t kp, int64_t b0, int64_t b1, int32_t sums[T]) {
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8(static_cast<char>(0xc0));
  __m512i acc[T][4];
  for (int t = 0; t < T; t++)
    for (int s = 0; s < 4; s++) acc[t][s] = _mm512_setzero_si512();
  for (int64_t b = b0; b < b1; b++) {
    const __m512i v = _mm512_loadu_si512(row + b * kBlockBytes);
    const __m512i c0 = _mm512_and_si512(v, m0), c1 = _mm512_and_si512(v, m1), c2 = _mm512_and_si512(v, m2),
                  c3 = _mm512_and_si512(v, m3);
    const int8_t* qb = q + b * kBlockWeights;
    for (int t = 0; t < T; t++) {
      acc[t][0] = dpbusd(acc[t][0], c0, _mm512_loadu_si512(qb + t * kp));
      acc[t][1] = dpbusd(acc[t][1], c1, _mm512_loadu_si512(qb + t * kp + 64));
      acc[t][2] = dpbusd(acc[t][2], c2, _mm512_loadu_si512(qb + t * kp + 128));
      acc[t][3] = dpbusd(acc[t][3], c3, _mm512_loadu_si512(qb + t * kp + 192));
    }
  }
  for (int t = 0; t < T; t++) sums[t] = combine(acc[t][0], acc[t][1], acc[t][2], acc[t][3]);
}

template <int T>
inline void row_tokens(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int t0, int64_t n, int groups,
                       int32_t* acc, int64_t acc_stride) {
  const int64_t bpg = w.kp / kBlockWeights / groups;
  for (int g = 0; g < groups; g++) {
    int32_t sums[T];
    tile_gemm<T>(w.packed + n * w.row_bytes, q + t0 * w.kp, w.kp, g * bpg, (g + 1) * bpg, sums);
    for (int t = 0; t < T; t++) acc[(t0 + t) * acc_stride + n * groups + g] = sums[t] - qsum[(t0 + t) * groups + g];
  }
}

void ternary_acc_avx512(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                        int groups, int32_t* acc, int64_t acc_stride) {
  int64_t n = n0;
  if (nt == 1) {
    // Prefetch about 8 KiB ahead in the weight stream (rows of a tile are contiguous).
    const int64_t tile = 4 * w.row_bytes;
    const int64_t prefetch = ((8192 + tile - 1) / tile) * tile;
    for (; n + 4 <= n1; n += 4) rows_gemv<4>(w, q, qsum, n, groups, acc, prefetch);
    for (; n < n1; n++) rows_gemv<1>(w, q, qsum, n, groups, acc, prefetch);
    return;
  }
  // Token blocks outermost so each block's activations stay in L1/L2 while the rows stream past.
  for (int t0 = 0; t0 < nt;) {
    const int left = nt - t0;
    const int T = left >= 4 ? 4 : left;
    for (n = n0; n < n1; n++) {
      switch (T) {
        case 4: row_tokens<4>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
        case 3: row_tokens<3>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
        case 2: row_tokens<2>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
        default: row_tokens<1>(w, q, qsum, t0, n, groups, acc, acc_stride); break;
      }
    }
    t0 += T;
  }
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
