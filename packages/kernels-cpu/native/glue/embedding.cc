// embedding: rows of the matrix as f32 (f16 widened, q8 times its row scale).
#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::Embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EmbeddingArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  const int64_t d = a.d;
  for (int64_t i = 0; i < a.n; i++) {
    const int64_t r = a.ids[i];
    float* o = a.out + i * d;
    for (int64_t c = 0; c < d; c++) {
      if (a.format == kF32)
        o[c] = static_cast<const float*>(a.matrix)[r * d + c];
      else if (a.format == kF16)
        o[c] = f16_to_f32(static_cast<const uint16_t*>(a.matrix)[r * d + c]);
      else
        o[c] = static_cast<float>(static_cast<const int8_t*>(a.matrix)[r * d + c]) * a.scales[r];
    }
  }
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
