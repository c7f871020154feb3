// quantizeQ8(src, isF16, rows, cols) → [Int8 ArrayBuffer, Float32 scales ArrayBuffer]: per row, scale =
// max|w| / 127 and q = roundHalfEven(w / scale) (w read from f16 or f32). Done natively: the 2B4T matrix has
// 328 M elements.
#include <cmath>

#include "glue.h"

namespace trine {
namespace glue {

Napi::Value QuantizeQ8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QuantizeQ8Args a;
  if (!parse(info, a)) return env.Undefined();
  const int64_t rows = a.rows, cols = a.cols;
  Napi::ArrayBuffer q = aligned_buffer(env, static_cast<size_t>(rows * cols), false, true);
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::ArrayBuffer sc = aligned_buffer(env, static_cast<size_t>(rows * 4), false);
  if (env.IsExceptionPending()) return env.Undefined();
  int8_t* qd = static_cast<int8_t*>(q.Data());
  float* sd = static_cast<float*>(sc.Data());
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; r++) {
    float amax = 0.f;
    for (int64_t c = 0; c < cols; c++) {
      row[c] = a.f16 ? f16_to_f32(static_cast<const uint16_t*>(a.src)[r * cols + c])
                     : static_cast<const float*>(a.src)[r * cols + c];
      amax = std::max(amax, std::fabs(row[c]));
    }
    const float scale = amax / 127.f;
    const float inv = scale > 0.f ? 1.f / scale : 0.f;
    for (int64_t c = 0; c < cols; c++) {
      const float v = std::nearbyint(row[c] * inv);
      qd[r * cols + c] = static_cast<int8_t>(std::clamp(v, -127.f, 127.f));
    }
    sd[r] = scale;
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, q);
  result.Set(1u, sc);
  return result;
}

}  // namespace glue
}  // namespace trine
