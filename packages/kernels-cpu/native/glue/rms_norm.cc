// rmsNorm: rows split over the pool once there are several (batched decode: 8 tokens × 121 norms a step); each
// row is still summed by one thread in one order.
#include "glue.h"

namespace trine {
namespace glue {
namespace {

struct RmsJob {
  float* out;
  const float* x;
  const float* w;
  float eps;
  int64_t d;
  Chunks chunks;
};

void rms_job(void* ctx, int, int) {
  RmsJob& j = *static_cast<RmsJob*>(ctx);
  j.chunks.each([&](int64_t r0, int64_t r1) { rms_norm_rows(j.out + r0 * j.d, j.x + r0 * j.d, j.w, j.eps, r1 - r0, j.d); });
}

}  // namespace

Napi::Value Backend::RmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RmsNormArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  if (a.rows < 2 || pool_->size() < 2) {
    rms_norm_rows(a.out, a.x, a.weight, a.eps, a.rows, a.d);
    return env.Undefined();
  }
  RmsJob job{a.out, a.x, a.weight, a.eps, a.d, {}};
  job.chunks.total = a.rows;
  job.chunks.chunk = std::max<int64_t>(1, a.rows / (static_cast<int64_t>(pool_->size()) * 4));
  pool_->run(rms_job, &job);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
