// Activation quantizers: the bit-exact definitions every SIMD path must reproduce (core's kernels/spec.ts).
#include <cmath>

#include "../common.h"

namespace trine {

// per_token (bitnet.cpp I2_S): max|x| in double floored at 1e-5, s = f32(127 / max),
// q = clamp(roundHalfEven(f32(x·s)), -128, 127). Returns s.
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12's AArch64 vectorizer crashes on the double fmax reduction at -O3 (ICE in vect_transform_reduction).
__attribute__((optimize("no-tree-vectorize")))
#endif
float quant_per_token_scalar(const float* x, int64_t k, int8_t* q) {
  double max = 1e-5;
  for (int64_t i = 0; i < k; i++) max = std::fmax(max, std::fabs(static_cast<double>(x[i])));
  const float s = static_cast<float>(127.0 / max);
  for (int64_t i = 0; i < k; i++) {
    const float v = std::nearbyint(x[i] * s);  // default rounding mode: half to even
    q[i] = static_cast<int8_t>(v > 127.f ? 127.f : (v < -128.f ? -128.f : v));
  }
  return s;
}

// per_block256 (llama.cpp Q8_K): m = first element of largest magnitude, iscale = f32(-127/m),
// q = min(127, roundHalfEven(f32(iscale·x))), d = f32(1/iscale); all zero when m = 0.
float quant_block256_scalar(const float* x, int8_t* q) {
  float amax = 0.f, m = 0.f;
  for (int i = 0; i < 256; i++) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      m = x[i];
    }
  }
  if (amax == 0.f) {
    for (int i = 0; i < 256; i++) q[i] = 0;
    return 0.f;
  }
  const float iscale = -127.f / m;
  for (int i = 0; i < 256; i++) {
    const float v = std::nearbyint(iscale * x[i]);
    q[i] = static_cast<int8_t>(v > 127.f ? 127.f : v);
  }
  return 1.f / iscale;
}

}  // namespace trine
