// AVX-512 path (F, BW, VL, VNNI; compiled with those flags into its own static library, never into the glue).
// Ternary over T16 tiles: vpdpbusd multiplies a tile's 16 rows × 4 unsigned codes by 4 signed int8 activations
// broadcast to every lane and adds each row's four products into its own i32 lane.
#include <immintrin.h>

#include <cmath>

#include "../common.h"

#ifndef TRINE_PREFETCH_BYTES
#define TRINE_PREFETCH_BYTES 2048  // software prefetch distance in the GEMV weight streams
#endif
#ifndef TRINE_LM_PREFETCH
#define TRINE_LM_PREFETCH 512  // the same for the LM head's row streams (measured 512 ≥ 0, 1024, 2048 here)
#endif

namespace trine {

namespace {

// vpdpbusd through inline asm: acc += Σ4 u8(u) · s8(s). GCC 12 copies and spills accumulators around the
// _mm512_dpbusd_epi32 builtin inside unrolled loops; a "+v" operand keeps each accumulator in its register.
inline __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
  return acc;
}

// vpdpbusd with the signed operand broadcast from memory ({1to16}): four int8 activations for every lane.
inline __m512i dpbusd_bcast(__m512i acc, __m512i u, const int8_t* four) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*reinterpret_cast<const int32_t*>(four)));
  return acc;
}

// acc += a · b through inline asm, for the same reason as dpbusd (GCC spills arrays of accumulators).
inline __m512 fmadd(__m512 a, __m512 b, __m512 acc) {
  asm("vfmadd231ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// The lanes of elements i … i+15 that are below n (all 16 except in a row's last, partial vector).
inline __mmask16 tail16(int64_t i, int64_t n) {
  return i + 16 <= n ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
}

inline int32_t load4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// Stores 16 row sums (lane i = row gi·16 + i) minus the activation sum, skipping rows ≥ min(n1, N).
inline void store_rows(__m512i sums, int32_t sub, const TernaryMat& w, int64_t gi, int64_t n1, int groups, int g,
                       int32_t* out) {
  const int64_t first = gi * kTileRows;
  const int64_t lim = (n1 < w.rows ? n1 : w.rows) - first;
  const __m512i v = _mm512_sub_epi32(sums, _mm512_set1_epi32(sub));
  if (groups == 1) {
    const __mmask16 m = lim >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << lim) - 1);
    _mm512_mask_storeu_epi32(out + first, m, v);
    return;
  }
  alignas(64) int32_t tmp[16];
  _mm512_store_si512(tmp, v);
  for (int64_t i = 0; i < lim && i < 16; i++) out[(first + i) * groups + g] = tmp[i];
}

// Decode (one token), RG row groups at once. Shifting codes down would cost a port-0 uop per tile; masking in place
// (v & (3 << 2s)) leaves code c scaled by 4^s (≤ 128, still a valid u8 for vpdpbusd), so each stage s keeps its
// own accumulator, divided back exactly at the end: Σ c·q = acc0 + acc1/4 + acc2/16 + acc3/64 (every lane of
// the stage-s accumulator is a sum of multiples of 4^s, so the arithmetic shifts are exact).
template <int RG>
inline void gemv_groups(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                        __m512i out[RG]) {
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8(static_cast<char>(0xc0));
  __m512i acc[RG][4];
  for (int r = 0; r < RG; r++)
    for (int s = 0; s < 4; s++) acc[r][s] = _mm512_setzero_si512();
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const int8_t* qk = q + k0;
    const __m512i b0 = _mm512_set1_epi32(load4(qk)), b1 = _mm512_set1_epi32(load4(qk + 4)),
                  b2 = _mm512_set1_epi32(load4(qk + 8)), b3 = _mm512_set1_epi32(load4(qk + 12));
    for (int r = 0; r < RG; r++) {
      const uint8_t* p = w.tile(gi + r, k0);
      // Each group is its own contiguous stream: fetch ahead (past its end, that is the next group).
      if (TRINE_PREFETCH_BYTES > 0) _mm_prefetch(reinterpret_cast<const char*>(p + TRINE_PREFETCH_BYTES), _MM_HINT_T0);
      const __m512i v = _mm512_load_si512(p);
      acc[r][0] = dpbusd(acc[r][0], _mm512_and_si512(v, m0), b0);
      acc[r][1] = dpbusd(acc[r][1], _mm512_and_si512(v, m1), b1);
      acc[r][2] = dpbusd(acc[r][2], _mm512_and_si512(v, m2), b2);
      acc[r][3] = dpbusd(acc[r][3], _mm512_and_si512(v, m3), b3);
    }
  }
  for (int r = 0; r < RG; r++)
    out[r] = _mm512_add_epi32(_mm512_add_epi32(acc[r][0], _mm512_srai_epi32(acc[r][1], 2)),
                              _mm512_add_epi32(_mm512_srai_epi32(acc[r][2], 4), _mm512_srai_epi32(acc[r][3], 6)));
}

template <int RG>
inline void gemv_run(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t gi, int64_t n1, int groups,
                     int32_t* acc) {
  const int64_t cols = w.kp / groups;
  for (int g = 0; g < groups; g++) {
    __m512i sums[RG];
    gemv_groups<RG>(w, q, gi, g * cols, (g + 1) * cols, sums);
    for (int r = 0; r < RG; r++) store_rows(sums[r], qsum[g], w, gi + r, n1, groups, g, acc);
  }
}

// Several tokens (prefill, batched decode): one row group against T tokens. The four code vectors of a tile are
// decoded once (shifts amortized over T tokens) and feed 4·T vpdpbusd with broadcast activations; one accumulator
// per token, 16 rows per accumulator.
template <int T>
inline void gemm_group(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                       __m512i out[T]) {
  // vpdpbusd has a latency of several cycles: stages 0-1 and 2-3 go to separate accumulators so enough
  // independent chains are in flight (8 tokens: 16 accumulators, the sweet spot measured here).
  constexpr int kSets = T >= 16 ? 1 : 2;
  const __m512i m3 = _mm512_set1_epi8(3);
  __m512i acc[kSets][T];
  for (int a = 0; a < kSets; a++)
    for (int t = 0; t < T; t++) acc[a][t] = _mm512_setzero_si512();
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const uint8_t* p = w.tile(gi, k0);
    // Without a prefetch the weight stream's misses and the vpdpbusd work take turns instead of overlapping
    // (batch 8 ran at the sum of the two); past the group's end this fetches the next group, read next.
    if (TRINE_PREFETCH_BYTES > 0) _mm_prefetch(reinterpret_cast<const char*>(p + TRINE_PREFETCH_BYTES), _MM_HINT_T0);
    const __m512i v = _mm512_load_si512(p);
    const __m512i c0 = _mm512_and_si512(v, m3), c1 = _mm512_and_si512(_mm512_srli_epi16(v, 2), m3),
                  c2 = _mm512_and_si512(_mm512_srli_epi16(v, 4), m3), c3 = _mm512_and_si512(_mm512_srli_epi16(v, 6), m3);
    const int8_t* qk = q + k0;
    for (int t = 0; t < T; t++) {
      const int8_t* qt = qk + t * w.kp;
      acc[0][t] = dpbusd_bcast(acc[0][t], c0, qt);
      acc[0][t] = dpbusd_bcast(acc[0][t], c1, qt + 4);
      acc[kSets - 1][t] = dpbusd_bcast(acc[kSets - 1][t], c2, qt + 8);
      acc[kSets - 1][t] = dpbusd_bcast(acc[kSets - 1][t], c3, qt + 12);
    }
  }
  for (int t = 0; t < T; t++) out[t] = kSets == 1 ? acc[0][t] : _mm512_add_epi32(acc[0][t], acc[kSets - 1][t]);
}

template <int T>
inline void gemm_run(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int t0, int64_t gi, int64_t n1,
                     int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t cols = w.kp / groups;
  for (int g = 0; g < groups; g++) {
    __m512i sums[T];
    gemm_group<T>(w, q + t0 * w.kp, gi, g * cols, (g + 1) * cols, sums);
    for (int t = 0; t < T; t++)
      store_rows(sums[t], qsum[(t0 + t) * groups + g], w, gi, n1, groups, g, acc + (t0 + t) * acc_stride);
  }
}

void ternary_acc_avx512(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                        int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t g0 = n0 / kTileRows, g1 = (n1 + kTileRows - 1) / kTileRows;
  if (nt == 1) {
    int64_t gi = g0;
    for (; gi + 4 <= g1; gi += 4) gemv_run<4>(w, q, qsum, gi, n1, groups, acc);
    for (; gi + 2 <= g1; gi += 2) gemv_run<2>(w, q, qsum, gi, n1, groups, acc);
    for (; gi < g1; gi++) gemv_run<1>(w, q, qsum, gi, n1, groups, acc);
    return;
  }
  // Row group outermost: its tiles (≤ 27 KB at K = 6912) stay in L1/L2 while every token block passes.
  for (int64_t gi = g0; gi < g1; gi++) {
    int t0 = 0;
    for (; t0 + 8 <= nt; t0 += 8) gemm_run<8>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 + 4 <= nt; t0 += 4) gemm_run<4>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 + 2 <= nt; t0 += 2) gemm_run<2>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 < nt; t0++) gemm_run<1>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
  }
}

// ---- Batch-1 candidates (common.h GemvKernel), timed per host by the backend.

// One 16-row group at a time, U tiles per step (4·U accumulators, enough to cover vpdpbusd's latency): since the
// groups follow each other in memory, the whole matrix is read as one linear stream, which the hardware
// prefetchers follow without software prefetches (four interleaved group streams need them, and miss more).
template <int U>
void gemv_linear(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t n0, int64_t n1, int groups,
                 int32_t* out) {
  static_assert(kColPad / kTileCols % U == 0, "a 256-column group is a whole number of U-tile steps");
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8(static_cast<char>(0xc0));
  const int64_t cols = w.kp / groups;
  for (int64_t gi = n0 / kTileRows; gi * kTileRows < n1; gi++)
    for (int g = 0; g < groups; g++) {
      __m512i acc[U][4];
      for (int u = 0; u < U; u++)
        for (int s = 0; s < 4; s++) acc[u][s] = _mm512_setzero_si512();
      for (int64_t k0 = g * cols; k0 < (g + 1) * cols; k0 += U * kTileCols) {
        const uint8_t* p = w.tile(gi, k0);
        for (int u = 0; u < U; u++) {
          const __m512i v = _mm512_load_si512(p + u * kTileBytes);
          const int8_t* qk = q + k0 + u * kTileCols;
          acc[u][0] = dpbusd_bcast(acc[u][0], _mm512_and_si512(v, m0), qk);
          acc[u][1] = dpbusd_bcast(acc[u][1], _mm512_and_si512(v, m1), qk + 4);
          acc[u][2] = dpbusd_bcast(acc[u][2], _mm512_and_si512(v, m2), qk + 8);
          acc[u][3] = dpbusd_bcast(acc[u][3], _mm512_and_si512(v, m3), qk + 12);
        }
      }
      for (int u = 1; u < U; u++)
        for (int s = 0; s < 4; s++) acc[0][s] = _mm512_add_epi32(acc[0][s], acc[u][s]);
      // Stage s holds multiples of 4^s (see gemv_groups): the shifts are exact.
      const __m512i sums = _mm512_add_epi32(_mm512_add_epi32(acc[0][0], _mm512_srai_epi32(acc[0][1], 2)),
                                            _mm512_add_epi32(_mm512_srai_epi32(acc[0][2], 4), _mm512_srai_epi32(acc[0][3], 6)));
      store_rows(sums, qsum[g], w, gi, n1, groups, g, out);
    }
}

inline __m256i dpbusd256_bcast(__m256i acc, __m256i u, const int8_t* four) {
  asm("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*reinterpret_cast<const int32_t*>(four)));
  return acc;
}

// gemv_linear with 256-bit vpdpbusd (AVX512-VL): each tile as two 8-row halves. Where a 512-bit op issues as two
// 256-bit halves (Zen 4) this does the same work without the 512-bit ops' extra cost.
void gemv_linear_ymm(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t n0, int64_t n1, int groups,
                     int32_t* out) {
  const __m256i m0 = _mm256_set1_epi8(0x03), m1 = _mm256_set1_epi8(0x0c), m2 = _mm256_set1_epi8(0x30),
                m3 = _mm256_set1_epi8(static_cast<char>(0xc0));
  const int64_t cols = w.kp / groups;
  for (int64_t gi = n0 / kTileRows; gi * kTileRows < n1; gi++)
    for (int g = 0; g < groups; g++) {
      __m256i acc[2][4];
      for (int h = 0; h < 2; h++)
        for (int s = 0; s < 4; s++) acc[h][s] = _mm256_setzero_si256();
      for (int64_t k0 = g * cols; k0 < (g + 1) * cols; k0 += kTileCols) {
        const uint8_t* p = w.tile(gi, k0);
        const int8_t* qk = q + k0;
        for (int h = 0; h < 2; h++) {
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32 * h));
          acc[h][0] = dpbusd256_bcast(acc[h][0], _mm256_and_si256(v, m0), qk);
          acc[h][1] = dpbusd256_bcast(acc[h][1], _mm256_and_si256(v, m1), qk + 4);
          acc[h][2] = dpbusd256_bcast(acc[h][2], _mm256_and_si256(v, m2), qk + 8);
          acc[h][3] = dpbusd256_bcast(acc[h][3], _mm256_and_si256(v, m3), qk + 12);
        }
      }
      __m256i half[2];
      for (int h = 0; h < 2; h++)
        half[h] = _mm256_add_epi32(_mm256_add_epi32(acc[h][0], _mm256_srai_epi32(acc[h][1], 2)),
                                   _mm256_add_epi32(_mm256_srai_epi32(acc[h][2], 4), _mm256_srai_epi32(acc[h][3], 6)));
      store_rows(_mm512_inserti64x4(_mm512_castsi256_si512(half[0]), half[1], 1), qsum[g], w, gi, n1, groups, g, out);
    }
}

// Four group streams at once with software prefetches (the batch-1 path of ternary_acc_avx512).
void gemv_groups4(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t n0, int64_t n1, int groups,
                  int32_t* out) {
  ternary_acc_avx512(w, q, qsum, 1, n0, n1, groups, out, 0);
}

// The AVX2 path's kernel (vpmaddubsw, 256-bit): a candidate too, as it was the fastest on Zen 4 in issue 23.
void gemv_avx2(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t n0, int64_t n1, int groups,
               int32_t* out) {
  kAvx2Table.ternary_acc(w, q, qsum, 1, n0, n1, groups, out, 0);
}

const GemvKernel kAvx512Gemv[] = {
    {"zmm-linear2", gemv_linear<2>},
    {"zmm-groups4", gemv_groups4},
    {"ymm-linear", gemv_linear_ymm},
    {"avx2-maddubs", gemv_avx2},
};

// LM head matrix rows (f16 or f32) as the Load of the tiles below. Prefetches may run past the matrix's end:
// a prefetch never faults.
template <typename E>
struct RowLoad {
  const E* w;
  int64_t k;
  static constexpr int64_t kPerLine = 64 / sizeof(E);
  __m512 operator()(int64_t r, int64_t i, __mmask16 m) const {
    if constexpr (sizeof(E) == 2) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + r * k + i));
    else return _mm512_maskz_loadu_ps(m, w + r * k + i);
  }
  // A full load that also prefetches (on the first column of each 64-byte line): near, TRINE_LM_PREFETCH bytes
  // ahead in this row's stream (f16 only, as measured; f32 rows are left to hardware); ahead, row `pr`'s line at
  // the same column. The prefetch lives in the function whose load is used: GCC deletes a call to a void member
  // that only prefetches (it counts the prefetch as no side effect), which silently cost batch 1 its prefetch.
  __m512 near(int64_t r, int64_t i) const {
    if constexpr (sizeof(E) == 2)
      if (TRINE_LM_PREFETCH > 0 && (i & (kPerLine - 1)) == 0)
        _mm_prefetch(reinterpret_cast<const char*>(w + r * k + i) + TRINE_LM_PREFETCH, _MM_HINT_T0);
    return (*this)(r, i, static_cast<__mmask16>(0xffff));
  }
  __m512 ahead(int64_t r, int64_t i, int64_t pr) const {
    if ((i & (kPerLine - 1)) == 0) _mm_prefetch(reinterpret_cast<const char*>(w + pr * k + i), _MM_HINT_T0);
    return (*this)(r, i, static_cast<__mmask16>(0xffff));
  }
};

// ---- LM head: R rows × T tokens of f32 FMAs; rows are streamed once per call whatever T is.
// A Load reads 16 weights of a row as f32: masked, or whole with a prefetch (near / ahead, see RowLoad).
template <typename Load, int R, int T>
inline void lm_tile(Load load, int64_t k, int64_t r, const float* x, float* out, int64_t out_stride, int t0) {
  __m512 acc[R][T];
  for (int i = 0; i < R; i++)
    for (int t = 0; t < T; t++) acc[i][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; j++) wv[j] = load.near(r + j, i);
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      const __m512 xv = _mm512_loadu_ps(x + (t0 + t) * k + i);
#pragma GCC unroll 8
      for (int j = 0; j < R; j++) acc[j][t] = fmadd(wv[j], xv, acc[j][t]);
    }
  }
  if (i < k) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k - i)) - 1);
    __m512 wv[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; j++) wv[j] = load(r + j, i, m);
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + (t0 + t) * k + i);
#pragma GCC unroll 8
      for (int j = 0; j < R; j++) acc[j][t] = fmadd(wv[j], xv, acc[j][t]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < R; j++)
#pragma GCC unroll 16
    for (int t = 0; t < T; t++) out[(t0 + t) * out_stride + r + j] = _mm512_reduce_add_ps(acc[j][t]);
}

// Batched tokens, K-blocked: kLmBlockRows rows × 8 tokens in 3-row tiles, K in chunks of kLmChunk columns so
// the 8 tokens' chunk of x (20 KB) stays in L1 while every tile of the block passes (whole rows of x, 80 KB, were
// re-read from L2 for every tile and held the FMAs back). A tile's 24 accumulators are parked in `park` between
// chunks; each lane still sums its columns in order and ends in the same reduce, so the logits are bit for bit
// those of lm_tile. Weights are prefetched one block ahead at the same position (the row streams are chunked, so
// a distance within the row would land in the wrong chunk).
constexpr int64_t kLmBlockRows = 24, kLmChunk = 640;

template <typename Load>
inline void lm_block8(Load load, int64_t k, int64_t r, const float* x, float* out, int64_t out_stride, int t0) {
  constexpr int R = 3, T = 8;
  alignas(64) __m512 park[kLmBlockRows / R][R * T];
  const float* xt = x + t0 * k;
  for (int64_t c0 = 0; c0 < k; c0 += kLmChunk) {
    const int64_t c1 = c0 + kLmChunk < k ? c0 + kLmChunk : k;
    for (int64_t b = 0; b < kLmBlockRows / R; b++) {
      const int64_t rr = r + b * R;
      __m512 acc[R][T];
      if (c0 == 0) {
        for (int j = 0; j < R; j++)
          for (int t = 0; t < T; t++) acc[j][t] = _mm512_setzero_ps();
      } else {
        for (int j = 0; j < R; j++)
          for (int t = 0; t < T; t++) acc[j][t] = park[b][j * T + t];
      }
      int64_t i = c0;
      for (; i + 16 <= c1; i += 16) {
        __m512 wv[R];
#pragma GCC unroll 8
        for (int j = 0; j < R; j++) wv[j] = load.ahead(rr + j, i, rr + j + kLmBlockRows);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
          const __m512 xv = _mm512_loadu_ps(xt + t * k + i);
#pragma GCC unroll 8
          for (int j = 0; j < R; j++) acc[j][t] = fmadd(wv[j], xv, acc[j][t]);
        }
      }
      if (i < c1) {  // only in the last chunk: kLmChunk is a multiple of 16
        const __mmask16 m = static_cast<__mmask16>((1u << (c1 - i)) - 1);
        __m512 wv[R];
#pragma GCC unroll 8
        for (int j = 0; j < R; j++) wv[j] = load(rr + j, i, m);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
          const __m512 xv = _mm512_maskz_loadu_ps(m, xt + t * k + i);
#pragma GCC unroll 8
          for (int j = 0; j < R; j++) acc[j][t] = fmadd(wv[j], xv, acc[j][t]);
        }
      }
      if (c1 < k) {
        for (int j = 0; j < R; j++)
          for (int t = 0; t < T; t++) park[b][j * T + t] = acc[j][t];
      } else {
#pragma GCC unroll 16
        for (int j = 0; j < R; j++)
#pragma GCC unroll 16
          for (int t = 0; t < T; t++) out[(t0 + t) * out_stride + rr + j] = _mm512_reduce_add_ps(acc[j][t]);
      }
    }
  }
}

template <typename Load, int R>
inline void lm_rows(Load load, int64_t k, int64_t r, const float* x, int nt, float* out, int64_t out_stride,
                    int t0 = 0) {
  // Three rows × eight tokens (24 accumulators): each f16 weight is converted once for eight tokens.
  if constexpr (R <= 3)
    for (; t0 + 8 <= nt; t0 += 8) lm_tile<Load, R, 8>(load, k, r, x, out, out_stride, t0);
  for (; t0 + 4 <= nt; t0 += 4) lm_tile<Load, R, 4>(load, k, r, x, out, out_stride, t0);
  switch (nt - t0) {
    case 3: lm_tile<Load, R, 3>(load, k, r, x, out, out_stride, t0); break;
    case 2: lm_tile<Load, R, 2>(load, k, r, x, out, out_stride, t0); break;
    case 1: lm_tile<Load, R, 1>(load, k, r, x, out, out_stride, t0); break;
    default: break;
  }
}

// A Load without software prefetch: batch 1 reads one row after another, a single linear stream that the hardware
// prefetchers follow on their own.
template <typename Load>
struct StreamLoad {
  Load load;
  __m512 operator()(int64_t r, int64_t i, __mmask16 m) const { return load(r, i, m); }
  __m512 near(int64_t r, int64_t i) const { return load(r, i, static_cast<__mmask16>(0xffff)); }
};

template <typename Load>
inline void lm_range(Load load, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                     int64_t out_stride) {
  int64_t r = r0;
  if (nt == 1) {
    // One row at a time: 8 interleaved row streams (with prefetch) read 20–27 GB/s at 1 thread on Zen 5, one row
    // after another 29–33 GB/s. Each lane still sums its columns in order, as every tile here does.
    for (; r < r1; r++) lm_tile<StreamLoad<Load>, 1, 1>(StreamLoad<Load>{load}, k, r, x, out, out_stride, 0);
  } else if (nt >= 8) {
    const int n8 = nt / 8 * 8;
    for (; r + kLmBlockRows <= r1; r += kLmBlockRows) {
      for (int t0 = 0; t0 < n8; t0 += 8) lm_block8(load, k, r, x, out, out_stride, t0);
      if (n8 < nt)
        for (int64_t rr = r; rr < r + kLmBlockRows; rr += 3) lm_rows<Load, 3>(load, k, rr, x, nt, out, out_stride, n8);
    }
    for (; r + 3 <= r1; r += 3) lm_rows<Load, 3>(load, k, r, x, nt, out, out_stride);
  } else {
    for (; r + 4 <= r1; r += 4) lm_rows<Load, 4>(load, k, r, x, nt, out, out_stride);
  }
  for (; r < r1; r++) lm_rows<Load, 1>(load, k, r, x, nt, out, out_stride);
}

void lm_f16_avx512(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                   int64_t out_stride) {
  lm_range(RowLoad<uint16_t>{w, k}, k, r0, r1, x, nt, out, out_stride);
}

void lm_f32_avx512(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                   int64_t out_stride) {
  lm_range(RowLoad<float>{w, k}, k, r0, r1, x, nt, out, out_stride);
}

// acc += Σ pairs i16 · i16 (vpdpwssd) through inline asm, like dpbusd.
inline __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// q8 LM head: R rows × T tokens; int8 weights widened to int16, exact i32 sums per 256-column block, then f32.
template <int R, int T, bool Prefetch = true>
inline void q8_tile(const int8_t* w, const float* scales, int64_t k, int64_t r, const int16_t* x16, int64_t kx,
                    const float* xinv, int t0, float* out, int64_t out_stride) {
  __m512 facc[R][T];
  for (int j = 0; j < R; j++)
    for (int t = 0; t < T; t++) facc[j][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < k; b += kQ8Block) {
    __m512i iacc[R][T];
    for (int j = 0; j < R; j++)
      for (int t = 0; t < T; t++) iacc[j][t] = _mm512_setzero_si512();
    const int64_t end = b + kQ8Block < k ? b + kQ8Block : k;
    for (int64_t i = b; i < end; i += 32) {
      const __mmask32 m = i + 32 <= end ? 0xffffffffu : static_cast<__mmask32>((1ull << (end - i)) - 1);
      __m512i wv[R];
      for (int j = 0; j < R; j++) {
        const int8_t* p = w + (r + j) * k + i;
        if (Prefetch && TRINE_LM_PREFETCH > 0 && (i & 63) == 0) _mm_prefetch(reinterpret_cast<const char*>(p) + TRINE_LM_PREFETCH, _MM_HINT_T0);
        wv[j] = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
      }
      for (int t = 0; t < T; t++) {
        const __m512i xv = _mm512_loadu_si512(x16 + (t0 + t) * kx + i);  // zero padded to kx
        for (int j = 0; j < R; j++) iacc[j][t] = dpwssd(iacc[j][t], wv[j], xv);
      }
    }
    for (int j = 0; j < R; j++)
      for (int t = 0; t < T; t++) facc[j][t] = _mm512_add_ps(facc[j][t], _mm512_cvtepi32_ps(iacc[j][t]));
  }
#pragma GCC unroll 16
  for (int j = 0; j < R; j++)
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
      out[(t0 + t) * out_stride + r + j] = _mm512_reduce_add_ps(facc[j][t]) * xinv[t0 + t] * scales[r + j];
}

template <int R>
inline void q8_rows(const int8_t* w, const float* scales, int64_t k, int64_t r, const int16_t* x16, int64_t kx,
                    const float* xinv, int nt, float* out, int64_t out_stride) {
  int t0 = 0;
  for (; t0 + 4 <= nt; t0 += 4) q8_tile<R, 4>(w, scales, k, r, x16, kx, xinv, t0, out, out_stride);
  for (; t0 < nt; t0++) q8_tile<R, 1>(w, scales, k, r, x16, kx, xinv, t0, out, out_stride);
}

void lm_q8_avx512(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const int16_t* x16,
                  int64_t kx, const float* xinv, int nt, float* out, int64_t out_stride) {
  int64_t r = r0;
  if (nt == 1) {
    // One row after another, as the f16 head (lm_range): one linear stream for the hardware prefetchers.
    for (; r < r1; r++) q8_tile<1, 1, false>(w, scales, k, r, x16, kx, xinv, 0, out, out_stride);
  } else {
    for (; r + 2 <= r1; r += 2) q8_rows<2>(w, scales, k, r, x16, kx, xinv, nt, out, out_stride);
  }
  for (; r < r1; r++) q8_rows<1>(w, scales, k, r, x16, kx, xinv, nt, out, out_stride);
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

// Four positions per iteration (independent FMA chains); dh tails are masked.
void scores_f16_avx512(const float* q, const uint16_t* k, int64_t dh, int64_t n, float* out) {
  int64_t p = 0;
  for (; p + 4 <= n; p += 4) {
    const uint16_t* kr = k + p * dh;
    // The cache is on 4 KB pages that the hardware prefetchers do not cross, and cold after a step's weights
    // went through: fetch the rows 16 positions ahead, page boundaries included.
    for (int64_t b = 0; b < 4 * dh * 2; b += 64) _mm_prefetch(reinterpret_cast<const char*>(kr + 16 * dh) + b, _MM_HINT_T0);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < dh; i += 16) {
      const __mmask16 m = tail16(i, dh);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      a0 = fmadd(qv, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kr + i)), a0);
      a1 = fmadd(qv, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kr + dh + i)), a1);
      a2 = fmadd(qv, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kr + 2 * dh + i)), a2);
      a3 = fmadd(qv, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kr + 3 * dh + i)), a3);
    }
    out[p] = _mm512_reduce_add_ps(a0);
    out[p + 1] = _mm512_reduce_add_ps(a1);
    out[p + 2] = _mm512_reduce_add_ps(a2);
    out[p + 3] = _mm512_reduce_add_ps(a3);
  }
  for (; p < n; p++) {
    const uint16_t* kr = k + p * dh;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < dh; i += 16) {
      const __mmask16 m = tail16(i, dh);
      acc = fmadd(_mm512_maskz_loadu_ps(m, q + i), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kr + i)), acc);
    }
    out[p] = _mm512_reduce_add_ps(acc);
  }
}

// Output chunk of up to 128 dims kept in registers while every position is added in.
void wsum_f16_avx512(const float* probs, const uint16_t* v, int64_t dh, int64_t n, float* out) {
  for (int64_t i0 = 0; i0 < dh; i0 += 128) {
    const int64_t len = dh - i0 < 128 ? dh - i0 : 128;
    __m512 acc[8];
    __mmask16 m[8];
    for (int c = 0; c < 8; c++) {
      acc[c] = _mm512_setzero_ps();
      const int64_t left = len - 16 * c;
      m[c] = left >= 16 ? static_cast<__mmask16>(0xffff) : left <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << left) - 1);
    }
    for (int64_t p = 0; p < n; p++) {
      const __m512 pb = _mm512_set1_ps(probs[p]);
      const uint16_t* vr = v + p * dh + i0;
      for (int64_t b = 0; b < len * 2; b += 64) _mm_prefetch(reinterpret_cast<const char*>(vr + 16 * dh) + b, _MM_HINT_T0);
#pragma GCC unroll 8
      for (int c = 0; c < 8; c++)
        if (m[c]) acc[c] = fmadd(pb, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[c], vr + 16 * c)), acc[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++)
      if (m[c]) _mm512_mask_storeu_ps(out + i0 + 16 * c, m[c], acc[c]);
  }
}

void to_f16_avx512(const float* in, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(i, n);
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, in + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

// softmax_scalar in 16 lanes: the same IEEE operations per element (mul and add kept apart, no FMA), lane p mod 16
// holding partial sum p mod 16 in f64, so the bits equal the scalar definition's.
void softmax_avx512(float* s, int64_t n, float scale, bool round) {
  using namespace softmax_exp;
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmx = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = tail16(p, n);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + p), vscale);
    _mm512_mask_storeu_ps(s + p, m, v);
    vmx = _mm512_mask_max_ps(vmx, m, vmx, v);
  }
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
  const __m512 log2e = _mm512_set1_ps(kLog2e), shift = _mm512_set1_ps(kShift), hi = _mm512_set1_ps(kLn2Hi),
               lo = _mm512_set1_ps(kLn2Lo), lowest = _mm512_set1_ps(kMin), one = _mm512_set1_ps(1.f);
  const __m512i bias = _mm512_set1_epi32(static_cast<int>(127u - 0x4B400000u));
  __m512d part0 = _mm512_setzero_pd(), part1 = _mm512_setzero_pd();
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = tail16(p, n);
    const __m512 x = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + p), mx);
    const __m512 t = _mm512_add_ps(_mm512_mul_ps(x, log2e), shift);
    const __m512 nf = _mm512_sub_ps(t, shift);
    const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(nf, hi)), _mm512_mul_ps(nf, lo));
    __m512 y = _mm512_set1_ps(kP[0]);
    for (int i = 1; i < 6; i++) y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(kP[i]));
    y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(y, _mm512_mul_ps(r, r)), r), one);
    const __m512 pow2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_castps_si512(t), bias), 23));
    // x ≥ kMin (false for NaN, as in the scalar test) and inside the row; everything else is 0.
    const __mmask16 keep = _mm512_mask_cmp_ps_mask(m, x, lowest, _CMP_GE_OQ);
    const __m512 e = _mm512_maskz_mul_ps(keep, y, pow2);
    _mm512_mask_storeu_ps(s + p, m, e);
    part0 = _mm512_add_pd(part0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    part1 = _mm512_add_pd(part1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  alignas(64) double part[16];
  _mm512_store_pd(part, part0);
  _mm512_store_pd(part + 8, part1);
  double sum = part[0];
  for (int i = 1; i < 16; i++) sum += part[i];
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = tail16(p, n);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + p), inv);
    if (round) v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    _mm512_mask_storeu_ps(s + p, m, v);
  }
}

uint64_t read_sum_avx512(const uint8_t* p, int64_t n) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  for (int64_t i = 0; i < n; i += 256) {
    a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
  }
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d))));
}

}  // namespace

const KernelTable kAvx512Table = {"avx512vnni",    ternary_acc_avx512,     lm_f16_avx512,  lm_f32_avx512,
                                  lm_q8_avx512,    quant_per_token_avx512, quant_block256_scalar, scores_f16_avx512, wsum_f16_avx512, to_f16_avx512, read_sum_avx512,
                                  kAvx512Gemv,     sizeof(kAvx512Gemv) / sizeof(kAvx512Gemv[0]), softmax_avx512};

}  // namespace trine
