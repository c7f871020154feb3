// ARM NEON path with the dot-product extension (-march=armv8.2-a+dotprod; its own static library, reached only
// after arm_features() saw FEAT_DotProd). Only the ternary kernel uses SDOT; the rest is neon.cc's.
#if defined(__aarch64__)
#include "sdot.h"

namespace trine {

namespace {

// Row group outermost for several tokens: the group's tiles (≤ 27 KB at K = 6912) stay in L1 while every token
// block passes.
void ternary_acc_dotprod(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                         int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t g0 = n0 / kTileRows, g1 = (n1 + kTileRows - 1) / kTileRows;
  if (nt == 1) return neon::sdot_decode(w, q, qsum, g0, g1, n1, groups, acc);
  for (int64_t gi = g0; gi < g1; gi++) {
    int t0 = 0;
    for (; t0 + 4 <= nt; t0 += 4)
      neon::run_tokens<4, neon::sdot_gemm<4>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 + 2 <= nt; t0 += 2)
      neon::run_tokens<2, neon::sdot_gemm<2>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
    for (; t0 < nt; t0++) neon::run_tokens<1, neon::sdot_gemm<1>>(w, q, qsum, t0, gi, n1, groups, acc, acc_stride);
  }
}

}  // namespace

const KernelTable kNeonDotTable = {"neon-dotprod",   ternary_acc_dotprod,   neon::lm_f16,    neon::lm_f32,
                                   neon::lm_q8,      neon::quant_per_token, neon::quant_block256,
                                   neon::scores_f16, neon::wsum_f16,        neon::to_f16,    neon::read_sum};

}  // namespace trine
#endif
