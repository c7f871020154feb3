// Pieces shared by the three ARM tables (neon.cc, dotprod.cc, i8mm.cc). The float kernels and quantizers are
// plain NEON (defined once in neon.cc, baseline flags) and used by every ARM table; only the ternary kernel
// differs between them. Everything here that is inline is `static`, so no copy compiled with +dotprod/+i8mm can
// be the one the linker keeps for baseline code.
#pragma once
#include <arm_neon.h>

#include "../common.h"

namespace trine {
namespace neon {

void lm_f16(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
            int64_t out_stride);
void lm_f32(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
            int64_t out_stride);
void lm_q8(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const int16_t* x16, int64_t kx,
           const float* xinv, int nt, float* out, int64_t out_stride);
float quant_per_token(const float* x, int64_t k, int8_t* q);
float quant_block256(const float* x, int8_t* q);
void scores_f16(const float* q, const uint16_t* k, int64_t dh, int64_t n, float* out);
void wsum_f16(const float* probs, const uint16_t* v, int64_t dh, int64_t n, float* out);
void to_f16(const float* in, uint16_t* out, int64_t n);
uint64_t read_sum(const uint8_t* p, int64_t n);

// Stores one row group's 16 sums (row gi·16 + i) minus the activation sum, skipping rows ≥ min(n1, N).
static inline void store_rows16(const int32_t* rows16, int32_t sub, const TernaryMat& w, int64_t gi, int64_t n1,
                                int groups, int g, int32_t* out) {
  const int64_t first = gi * kTileRows;
  const int64_t lim = (n1 < w.rows ? n1 : w.rows) - first;
  for (int64_t i = 0; i < lim && i < kTileRows; i++) out[(first + i) * groups + g] = rows16[i] - sub;
}

// The group loop of every token-blocked ternary kernel: K sums T tokens × the 16 rows of row group gi over one
// group's columns (its q starts at token t0), then each token's rows are stored minus its activation sum.
using TokensFn = void (*)(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                          int32_t (*out)[kTileRows]);
template <int T, TokensFn K>
static inline void run_tokens(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int t0, int64_t gi,
                              int64_t n1, int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t cols = w.kp / groups;
  for (int g = 0; g < groups; g++) {
    int32_t sums[T][kTileRows];
    K(w, q + t0 * w.kp, gi, g * cols, (g + 1) * cols, sums);
    for (int t = 0; t < T; t++)
      store_rows16(sums[t], qsum[(t0 + t) * groups + g], w, gi, n1, groups, g, acc + (t0 + t) * acc_stride);
  }
}

// The four stage vectors of one 16-byte quarter of a T16 tile (4 rows × 4 bytes): stage s holds, in 32-bit lane
// i, row i's codes for columns k0 + 4s .. k0 + 4s + 3 (common.h). Codes are 0..2, so they are valid int8 too.
static inline void decode_quarter(uint8x16_t v, int8x16_t c[4]) {
  const uint8x16_t m3 = vdupq_n_u8(3);
  c[0] = vreinterpretq_s8_u8(vandq_u8(v, m3));
  c[1] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), m3));
  c[2] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), m3));
  c[3] = vreinterpretq_s8_u8(vshrq_n_u8(v, 6));
}

}  // namespace neon
}  // namespace trine
