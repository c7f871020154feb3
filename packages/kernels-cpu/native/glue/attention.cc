// attention: one (token, query head) per work item, each with its own scratch row of probabilities per thread.
#include "glue.h"

namespace trine {
namespace glue {
namespace {

struct AttnJob {
  const KernelTable* kt;
  float* out;
  const float* q;
  const void* cache;
  KvLayout kv;
  int64_t layer, heads, group;
  const int32_t* positions;
  const int32_t* slots;
  float scale;
  bool round_probs;
  std::vector<std::vector<float>>* scratch;
  Chunks chunks;
};

void attn_job(void* ctx, int tid, int) {
  AttnJob& j = *static_cast<AttnJob*>(ctx);
  float* scratch = (*j.scratch)[tid].data();
  j.chunks.each([&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t i = u / j.heads, h = u % j.heads;
      const int64_t dh = j.kv.head_dim;
      attention_head(j.out + (i * j.heads + h) * dh, j.q + (i * j.heads + h) * dh, j.cache, j.kv, j.layer,
                     j.slots[i], j.positions[i], h / j.group, j.scale, j.round_probs, scratch, *j.kt);
    }
  });
}

}  // namespace

Napi::Value Backend::Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AttentionArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  if (a.n == 0) return env.Undefined();
  scratch_.resize(static_cast<size_t>(pool_->size()));
  for (auto& v : scratch_)
    if (static_cast<int64_t>(v.size()) < a.kv.context) v.resize(static_cast<size_t>(a.kv.context));
  AttnJob job;
  job.kt = kt_;
  job.out = a.out;
  job.q = a.q;
  job.cache = a.cache;
  job.kv = a.kv;
  job.layer = a.layer;
  job.heads = a.heads;
  job.group = a.heads / a.kv.kv_heads;
  job.positions = a.positions;
  job.slots = a.slots;
  job.scale = a.scale;
  job.round_probs = a.round_probs;
  job.scratch = &scratch_;
  job.chunks.total = a.n * a.heads;
  job.chunks.chunk = 1;
  pool_->run(attn_job, &job);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
