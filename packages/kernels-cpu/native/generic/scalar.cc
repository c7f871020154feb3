// The portable scalar path: readable versions of every table kernel, with the same signatures as the SIMD ones.
#include "../common.h"

namespace trine {

namespace {

// Σ_k c[n,k]·q[t,k] per group, minus Σ q (the +1 offset of the codes): the exact integer Σ w·q.
void ternary_acc_scalar(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                        int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t nblocks = w.kp / kBlockWeights;
  const int64_t blocks_per_group = nblocks / groups;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = w.packed + n * w.row_bytes;
    for (int t = 0; t < nt; t++) {
      const int8_t* qt = q + static_cast<int64_t>(t) * w.kp;
      for (int g = 0; g < groups; g++) {
        int32_t sum = 0;
        for (int64_t b = g * blocks_per_group; b < (g + 1) * blocks_per_group; b++) {
          const uint8_t* blk = row + b * kBlockBytes;
          const int8_t* qb = qt + b * kBlockWeights;
          for (int j = 0; j < kBlockBytes; j++)
            for (int s = 0; s < 4; s++) sum += ((blk[j] >> (2 * s)) & 3) * qb[s * 64 + j];
        }
        acc[t * acc_stride + n * groups + g] = sum - qsum[t * groups + g];
      }
    }
  }
}

void lm_f16_scalar(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                   int64_t out_stride) {
  for (int64_t r = r0; r < r1; r++)
    for (int t = 0; t < nt; t++) {
      float sum = 0.f;
      for (int64_t i = 0; i < k; i++) sum += f16_to_f32(w[r * k + i]) * x[t * k + i];
      out[t * out_stride + r] = sum;
    }
}

void lm_f32_scalar(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                   int64_t out_stride) {
  for (int64_t r = r0; r < r1; r++)
    for (int t = 0; t < nt; t++) {
      float sum = 0.f;
      for (int64_t i = 0; i < k; i++) sum += w[r * k + i] * x[t * k + i];
      out[t * out_stride + r] = sum;
    }
}

void lm_q8_scalar(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const float* x, int nt,
                  float* out, int64_t out_stride) {
  for (int64_t r = r0; r < r1; r++)
    for (int t = 0; t < nt; t++) {
      float sum = 0.f;
      for (int64_t i = 0; i < k; i++) sum += static_cast<float>(w[r * k + i]) * x[t * k + i];
      out[t * out_stride + r] = sum * scales[r];
    }
}

float dot_f16_scalar(const float* a, const uint16_t* b, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; i++) s += a[i] * f16_to_f32(b[i]);
  return s;
}

void axpy_f16_scalar(float* y, float a, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * f16_to_f32(x[i]);
}

}  // namespace

const KernelTable kScalarTable = {"scalar",       ternary_acc_scalar, lm_f16_scalar,  lm_f32_scalar,
                                  lm_q8_scalar,   quant_per_token_scalar, dot_f16_scalar, axpy_f16_scalar};

}  // namespace trine
