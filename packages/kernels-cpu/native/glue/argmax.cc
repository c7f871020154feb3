#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::Argmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArgmaxArgs a;
  if (!parse(info, a)) return env.Undefined();
  for (int64_t r = 0; r < a.rows; r++) a.out[r] = argmax_row(a.logits + r * a.vocab, a.vocab);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
