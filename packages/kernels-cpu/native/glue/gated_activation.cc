#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::Gated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GatedArgs a;
  if (parse(info, a)) gated_act(a.out, a.gate, a.up, a.act, a.count);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
