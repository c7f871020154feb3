// The SDOT ternary kernels (FEAT_DotProd), included by dotprod.cc and i8mm.cc, each built with its own -march.
// One 16-byte quarter of a T16 tile is 4 rows × 4 codes per 32-bit lane: vdotq_laneq_s32 against the tile's 16
// activations adds stage s's four products of row i into lane i (the by-lane form picks q[k0 + 4s .. + 3]).
#pragma once
#include "neon.h"

namespace trine {
namespace neon {

// Decode, RG row groups: two accumulators per quarter (stages 0-1 and 2-3) so eight or more add chains are in
// flight; SDOT's latency, not the loads, bounds a single chain.
template <int RG>
static inline void sdot_gemv(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                             int32_t out[RG][kTileRows]) {
  int32x4_t acc[RG][4][2];
  for (int g = 0; g < RG; g++)
    for (int r = 0; r < 4; r++) acc[g][r][0] = acc[g][r][1] = vdupq_n_s32(0);
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const int8x16_t a = vld1q_s8(q + k0);
    for (int g = 0; g < RG; g++) {
      const uint8_t* tile = w.tile(gi + g, k0);
      for (int r = 0; r < 4; r++) {
        int8x16_t c[4];
        decode_quarter(vld1q_u8(tile + 16 * r), c);
        acc[g][r][0] = vdotq_laneq_s32(acc[g][r][0], c[0], a, 0);
        acc[g][r][1] = vdotq_laneq_s32(acc[g][r][1], c[2], a, 2);
        acc[g][r][0] = vdotq_laneq_s32(acc[g][r][0], c[1], a, 1);
        acc[g][r][1] = vdotq_laneq_s32(acc[g][r][1], c[3], a, 3);
      }
    }
  }
  for (int g = 0; g < RG; g++)
    for (int r = 0; r < 4; r++) vst1q_s32(out[g] + 4 * r, vaddq_s32(acc[g][r][0], acc[g][r][1]));
}

// Several tokens, one row group: each quarter is decoded once for T tokens.
template <int T>
static inline void sdot_gemm(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                             int32_t out[T][kTileRows]) {
  int32x4_t acc[T][4];
  for (int t = 0; t < T; t++)
    for (int r = 0; r < 4; r++) acc[t][r] = vdupq_n_s32(0);
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const uint8_t* tile = w.tile(gi, k0);
    int8x16_t a[T];
    for (int t = 0; t < T; t++) a[t] = vld1q_s8(q + t * w.kp + k0);
    for (int r = 0; r < 4; r++) {
      int8x16_t c[4];
      decode_quarter(vld1q_u8(tile + 16 * r), c);
      for (int t = 0; t < T; t++) {
        acc[t][r] = vdotq_laneq_s32(acc[t][r], c[0], a[t], 0);
        acc[t][r] = vdotq_laneq_s32(acc[t][r], c[1], a[t], 1);
        acc[t][r] = vdotq_laneq_s32(acc[t][r], c[2], a[t], 2);
        acc[t][r] = vdotq_laneq_s32(acc[t][r], c[3], a[t], 3);
      }
    }
  }
  for (int t = 0; t < T; t++)
    for (int r = 0; r < 4; r++) vst1q_s32(out[t] + 4 * r, acc[t][r]);
}

template <int RG>
static inline void sdot_gemv_run(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t gi, int64_t n1,
                                 int groups, int32_t* acc) {
  const int64_t cols = w.kp / groups;
  for (int g = 0; g < groups; g++) {
    int32_t sums[RG][kTileRows];
    sdot_gemv<RG>(w, q, gi, g * cols, (g + 1) * cols, sums);
    for (int r = 0; r < RG; r++) store_rows16(sums[r], qsum[g], w, gi + r, n1, groups, g, acc);
  }
}

// One token over row groups [g0, g1).
static inline void sdot_decode(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t g0, int64_t g1,
                               int64_t n1, int groups, int32_t* acc) {
  int64_t gi = g0;
  for (; gi + 2 <= g1; gi += 2) sdot_gemv_run<2>(w, q, qsum, gi, n1, groups, acc);
  for (; gi < g1; gi++) sdot_gemv_run<1>(w, q, qsum, gi, n1, groups, acc);
}

}  // namespace neon
}  // namespace trine
