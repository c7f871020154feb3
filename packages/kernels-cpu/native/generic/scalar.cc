// The portable scalar path: readable versions of every table kernel, with the same signatures as the SIMD ones.
#include <cstring>

#include "../common.h"

namespace trine {

namespace {

// Σ_k c[n,k]·q[t,k] per group, minus Σ q (the +1 offset of the codes): the exact integer Σ w·q. Walks the T16
// tiles of each 16-row group exactly as the SIMD kernels do, one byte (four columns of one row) at a time.
void ternary_acc_scalar(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0, int64_t n1,
                        int groups, int32_t* acc, int64_t acc_stride) {
  const int64_t cols_per_group = w.kp / groups;
  for (int64_t gi = n0 / kTileRows; gi * kTileRows < n1; gi++) {
    for (int t = 0; t < nt; t++) {
      const int8_t* qt = q + static_cast<int64_t>(t) * w.kp;
      for (int g = 0; g < groups; g++) {
        int32_t sums[kTileRows] = {0};
        for (int64_t k0 = g * cols_per_group; k0 < (g + 1) * cols_per_group; k0 += kTileCols) {
          const uint8_t* tile = w.tile(gi, k0);
          for (int i = 0; i < kTileRows; i++)
            for (int b = 0; b < 4; b++) {
              const uint8_t byte = tile[4 * i + b];
              for (int s = 0; s < 4; s++) sums[i] += ((byte >> (2 * s)) & 3) * qt[k0 + 4 * s + b];
            }
        }
        for (int i = 0; i < kTileRows; i++) {
          const int64_t n = gi * kTileRows + i;
          if (n < n1 && n < w.rows) acc[t * acc_stride + n * groups + g] = sums[i] - qsum[t * groups + g];
        }
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

void lm_q8_scalar(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const int16_t* x16,
                  int64_t kx, const float* xinv, int nt, float* out, int64_t out_stride) {
  for (int64_t r = r0; r < r1; r++)
    for (int t = 0; t < nt; t++) {
      float sum = 0.f;
      for (int64_t b = 0; b < k; b += kQ8Block) {
        int32_t block = 0;
        for (int64_t i = b; i < k && i < b + kQ8Block; i++) block += w[r * k + i] * x16[t * kx + i];
        sum += static_cast<float>(block);
      }
      out[t * out_stride + r] = sum * xinv[t] * scales[r];
    }
}

void scores_f16_scalar(const float* q, const uint16_t* k, int64_t dh, int64_t n, float* out) {
  for (int64_t p = 0; p < n; p++) {
    float s = 0.f;
    for (int64_t i = 0; i < dh; i++) s += q[i] * f16_to_f32(k[p * dh + i]);
    out[p] = s;
  }
}

void wsum_f16_scalar(const float* probs, const uint16_t* v, int64_t dh, int64_t n, float* out) {
  for (int64_t i = 0; i < dh; i++) out[i] = 0.f;
  for (int64_t p = 0; p < n; p++)
    for (int64_t i = 0; i < dh; i++) out[i] += probs[p] * f16_to_f32(v[p * dh + i]);
}

void to_f16_scalar(const float* in, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = f32_to_f16(in[i]);
}

uint64_t read_sum_scalar(const uint8_t* p, int64_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (int64_t i = 0; i < n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a += w[0];
    b += w[1];
    c += w[2];
    d += w[3];
  }
  return a + b + c + d;
}

}  // namespace

const KernelTable kScalarTable = {"scalar",       ternary_acc_scalar, lm_f16_scalar,  lm_f32_scalar,
                                  lm_q8_scalar,   quant_per_token_scalar, quant_block256_scalar, scores_f16_scalar, wsum_f16_scalar, to_f16_scalar, read_sum_scalar};

}  // namespace trine
