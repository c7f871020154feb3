#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddArgs a;
  if (parse(info, a)) add_f32(a.out, a.a, a.b, a.count);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
