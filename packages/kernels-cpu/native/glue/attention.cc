// attention: one (token, query head) per work item, each with its own scratch row of probabilities per thread.
#include "glue.h"

namespace trine {
namespace glue {
namespace {

struct AttnJob {
  const KernelTable* kt;
  const AttentionArgs* a;
  int64_t group;  // query heads per KV head
  std::vector<std::vector<float>>* scratch;
  Chunks chunks;
};

void attn_job(void* ctx, int tid, int) {
  AttnJob& j = *static_cast<AttnJob*>(ctx);
  const AttentionArgs& a = *j.a;
  float* scratch = (*j.scratch)[tid].data();
  j.chunks.each([&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t i = u / a.heads, h = u % a.heads;
      const int64_t dh = a.kv.head_dim;
      attention_head(a.out + (i * a.heads + h) * dh, a.q + (i * a.heads + h) * dh, a.cache, a.kv, a.layer,
                     a.slots[i], a.positions[i], h / j.group, a.scale, a.round_probs, scratch, *j.kt);
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
  job.a = &a;
  job.group = a.heads / a.kv.kv_heads;
  job.scratch = &scratch_;
  job.chunks.total = a.n * a.heads;
  job.chunks.chunk = 1;
  pool_->run(attn_job, &job);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
