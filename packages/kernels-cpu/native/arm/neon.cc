// ARM NEON path with the dot-product extension (armv8.2-a+dotprod; its own static library). sdot multiplies
// groups of four int8 lanes and adds them into i32: the codes {0,1,2} are non-negative, so they can be fed as
// signed bytes. Untested on this project's x86 machines: kept deliberately simple (one row, one token at a time);
// the float kernels reuse the scalar ones.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "../common.h"

namespace trine {

namespace {

void ternary_acc_neon(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                      int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t bpg = w.kp / kBlockWeights / groups;
  const uint8x16_t m3 = vdupq_n_u8(3);
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = w.packed + n * w.row_bytes;
    for (int t = 0; t < nt; t++) {
      const int8_t* qt = q + static_cast<int64_t>(t) * w.kp;
      for (int g = 0; g < groups; g++) {
        int32x4_t sum = vdupq_n_s32(0);
        for (int64_t b = g * bpg; b < (g + 1) * bpg; b++) {
          for (int quarter = 0; quarter < 4; quarter++) {
            const uint8x16_t v = vld1q_u8(row + b * kBlockBytes + quarter * 16);
            const int8_t* qb = qt + b * kBlockWeights + quarter * 16;
            sum = vdotq_s32(sum, vreinterpretq_s8_u8(vandq_u8(v, m3)), vld1q_s8(qb));
            sum = vdotq_s32(sum, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), m3)), vld1q_s8(qb + 64));
            sum = vdotq_s32(sum, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), m3)), vld1q_s8(qb + 128));
            sum = vdotq_s32(sum, vreinterpretq_s8_u8(vshrq_n_u8(v, 6)), vld1q_s8(qb + 192));
          }
        }
        acc[t * acc_stride + n * groups + g] = vaddvq_s32(sum) - qsum[t * groups + g];
      }
    }
  }
}

}  // namespace

const KernelTable kNeonTable = {"neon-dotprod", ternary_acc_neon, kScalarTable.lm_f16, kScalarTable.lm_f32,
                                kScalarTable.lm_q8, kScalarTable.quant_per_token, kScalarTable.dot_f16,
                                kScalarTable.axpy_f16};

}  // namespace trine
#endif
