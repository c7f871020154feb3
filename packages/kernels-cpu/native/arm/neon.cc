// ARM NEON path with the dot-product extension (armv8.2-a+dotprod; its own static library). sdot multiplies
// groups of four int8 lanes and adds them into i32: the codes {0,1,2} are non-negative, so they can be fed as
// signed bytes. Untested on this project's x86 machines: kept deliberately simple (one row group, one token at a time);
// the float kernels reuse the scalar ones.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "../common.h"

namespace trine {

namespace {

// One 16-row group, one token: each 16-byte quarter of a tile is 4 rows × 4 codes per 32-bit lane; sdot against
// the four activations broadcast adds each row's products into its own lane.
void ternary_acc_neon(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                      int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t cols = w.kp / groups;
  const uint8x16_t m3 = vdupq_n_u8(3);
  for (int64_t gi = n0 / kTileRows; gi * kTileRows < n1; gi++) {
    for (int t = 0; t < nt; t++) {
      const int8_t* qt = q + static_cast<int64_t>(t) * w.kp;
      for (int g = 0; g < groups; g++) {
        int32x4_t sum[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (int64_t k0 = g * cols; k0 < (g + 1) * cols; k0 += kTileCols) {
          const uint8_t* tile = w.tile(gi, k0);
          int32_t four[4];
          __builtin_memcpy(four, qt + k0, 16);
          for (int quarter = 0; quarter < 4; quarter++) {
            const uint8x16_t v = vld1q_u8(tile + 16 * quarter);
            for (int s = 0; s < 4; s++) {
              const uint8x16_t c = vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-2 * s))), m3);
              sum[quarter] = vdotq_s32(sum[quarter], vreinterpretq_s8_u8(c), vreinterpretq_s8_s32(vdupq_n_s32(four[s])));
            }
          }
        }
        int32_t rows16[16];
        for (int quarter = 0; quarter < 4; quarter++) vst1q_s32(rows16 + 4 * quarter, sum[quarter]);
        for (int i = 0; i < kTileRows; i++) {
          const int64_t n = gi * kTileRows + i;
          if (n < n1 && n < w.rows) acc[t * acc_stride + n * groups + g] = rows16[i] - qsum[t * groups + g];
        }
      }
    }
  }
}

}  // namespace

const KernelTable kNeonTable = {"neon-dotprod", ternary_acc_neon, kScalarTable.lm_f16, kScalarTable.lm_f32,
                                kScalarTable.lm_q8, kScalarTable.quant_per_token, kScalarTable.scores_f16,
                                kScalarTable.wsum_f16, kScalarTable.to_f16,
                                kScalarTable.read_sum};

}  // namespace trine
#endif
