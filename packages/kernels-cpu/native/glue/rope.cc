// rope: each token's rotation with its position's angles, from a small ring of recent positions.
#include "glue.h"

namespace trine {
namespace glue {

Napi::Value Backend::Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RopeArgs a;
  if (!parse(info, a)) return env.Undefined();
  for (int64_t i = 0; i < a.n; i++)
    rope_apply(a.x + i * a.heads * a.head_dim, a.heads, a.head_dim, a.rope_dim, rope_cs(a.theta, a.rope_dim, a.positions[i]));
  return env.Undefined();
}

// rd is bounded by x's size (checked by parse), so the ring never grows an entry past one token's head.
const float* Backend::rope_cs(double theta, int64_t rd, int32_t pos) {
  for (const RopeAngles& e : rope_cache_)
    if (e.rd == rd && e.pos == pos && e.theta == theta) return e.cs.data();
  RopeAngles& e = rope_cache_[rope_next_];
  rope_next_ = (rope_next_ + 1) % kRopeCache;
  e.theta = theta;
  e.rd = rd;
  e.pos = pos;
  e.cs.resize(static_cast<size_t>(rd));
  rope_angles(e.cs.data(), rd, theta, pos);
  return e.cs.data();
}

}  // namespace glue
}  // namespace trine
