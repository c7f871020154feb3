#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::KvStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KvStoreArgs a;
  if (!parse(info, a)) return env.Undefined();
  const int64_t row = a.kv.kv_heads * a.kv.head_dim;
  for (int64_t i = 0; i < a.n; i++)
    kv_store_token(a.cache, a.kv, a.layer, a.slots[i], a.positions[i], a.k + i * row, a.v + i * row, *kt_);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
