// ARM NEON path with the int8 matrix-multiply extension (-march=armv8.2-a+dotprod+i8mm; its own static library,
// reached only after arm_features() saw FEAT_I8MM and FEAT_DotProd). SMMLA multiplies a 2×8 int8 matrix by the
// transpose of another 2×8 and adds the 2×2 result into four i32 lanes: 32 multiply-adds per instruction against
// SDOT's 16, but only with two tokens at once, so decode (one token) and an odd last token stay on SDOT.
#if defined(__aarch64__)
#include "sdot.h"

namespace trine {

namespace {

// P token pairs, one row group. Zipping two stage vectors of a quarter gives rows (2i, 2i+1) × 8 columns:
// zip1(c0, c1) = rows 0-1, columns k0..k0+7 (stage 0 then stage 1, each 4 columns); zip1(c2, c3) the next 8
// columns; zip2 the same for rows 2-3. The activations are two tokens × the same 8 columns. The accumulator of
// rows (a, b) × tokens (t, u) holds [a·t, a·u, b·t, b·u]; uzp1/uzp2 of the two row pairs give one token's 4 rows.
template <int P>
inline void smmla_tokens(const TernaryMat& w, const int8_t* q, int64_t gi, int64_t k_begin, int64_t k_end,
                         int32_t out[2 * P][kTileRows]) {
  int32x4_t acc[P][4][2];
  for (int p = 0; p < P; p++)
    for (int r = 0; r < 4; r++) acc[p][r][0] = acc[p][r][1] = vdupq_n_s32(0);
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileCols) {
    const uint8_t* tile = w.tile(gi, k0);
    int8x16_t lo[P], hi[P];
    for (int p = 0; p < P; p++) {
      const int8_t* qa = q + 2 * p * w.kp + k0;
      const int8_t* qb = qa + w.kp;
      lo[p] = vcombine_s8(vld1_s8(qa), vld1_s8(qb));
      hi[p] = vcombine_s8(vld1_s8(qa + 8), vld1_s8(qb + 8));
    }
    for (int r = 0; r < 4; r++) {
      int8x16_t c[4];
      neon::decode_quarter(vld1q_u8(tile + 16 * r), c);
      const int32x4_t c0 = vreinterpretq_s32_s8(c[0]), c1 = vreinterpretq_s32_s8(c[1]),
                      c2 = vreinterpretq_s32_s8(c[2]), c3 = vreinterpretq_s32_s8(c[3]);
      const int8x16_t a01lo = vreinterpretq_s8_s32(vzip1q_s32(c0, c1));
      const int8x16_t a01hi = vreinterpretq_s8_s32(vzip1q_s32(c2, c3));
      const int8x16_t a23lo = vreinterpretq_s8_s32(vzip2q_s32(c0, c1));
      const int8x16_t a23hi = vreinterpretq_s8_s32(vzip2q_s32(c2, c3));
      for (int p = 0; p < P; p++) {
        acc[p][r][0] = vmmlaq_s32(acc[p][r][0], a01lo, lo[p]);
        acc[p][r][1] = vmmlaq_s32(acc[p][r][1], a23lo, lo[p]);
        acc[p][r][0] = vmmlaq_s32(acc[p][r][0], a01hi, hi[p]);
        acc[p][r][1] = vmmlaq_s32(acc[p][r][1], a23hi, hi[p]);
      }
    }
  }
  for (int p = 0; p < P; p++)
    for (int r = 0; r < 4; r++) {
      vst1q_s32(out[2 * p] + 4 * r, vuzp1q_s32(acc[p][r][0], acc[p][r][1]));
      vst1q_s32(out[2 * p + 1] + 4 * r, vuzp2q_s32(acc[p][r][0], acc[p][r][1]));
    }
}

void ternary_acc_i8mm(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                      int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t g0 = n0 / kTileRows, g1 = (n1 + kTileRows - 1) / kTileRows;
  if (nt == 1) return neon::sdot_decode(w, q, qsum, g0, g1, n1, groups, acc);
  for (int64_t gi = g0; gi < g1; gi++) {
    int t0 = 0;
    for (; t0 + 4 <= nt; t0 += 4) neon::run_tokens<4, smmla_tokens<2>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 + 2 <= nt; t0 += 2) neon::run_tokens<2, smmla_tokens<1>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    if (t0 < nt) neon::run_tokens<1, neon::sdot_gemm<1>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
  }
}

}  // namespace

const KernelTable kNeonI8mmTable = {"neon-i8mm",      ternary_acc_i8mm,      neon::lm_f16,    neon::lm_f32,
                                    neon::lm_q8,      neon::quant_per_token, neon::quant_block256,
                                    neon::scores_f16, neon::wsum_f16,        neon::to_f16,    neon::read_sum};

}  // namespace trine
#endif
