// quantize: int8 activations, both schemes through the code path's kernels.
#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QuantizeArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  for (int64_t r = 0; r < a.rows; r++) {
    if (a.scheme == kPerToken) {
      a.scales[r] = kt_->quant_per_token(a.x + r * a.k, a.k, a.q + r * a.k);
    } else {
      for (int64_t g = 0; g < a.groups; g++)
        a.scales[r * a.groups + g] = kt_->quant_block256(a.x + r * a.k + g * 256, a.q + r * a.k + g * 256);
    }
  }
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
