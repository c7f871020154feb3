// readBandwidth(megabytes, reps) → best GB/s of a read-only sweep over a buffer of that size, split over the pool
// in 1 MiB chunks with the path's widest loads: the STREAM-like ceiling GEMV bandwidth is compared with.
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "glue.h"

namespace trine {
namespace glue {
namespace {

struct ReadJob {
  const KernelTable* kt;
  const uint8_t* p;
  std::atomic<uint64_t> sum{0};
  Chunks chunks;
};

void read_job(void* ctx, int, int) {
  ReadJob& j = *static_cast<ReadJob*>(ctx);
  uint64_t s = 0;
  j.chunks.each([&](int64_t b0, int64_t b1) { s += j.kt->read_sum(j.p + b0, b1 - b0); });
  j.sum.fetch_add(s, std::memory_order_relaxed);
}

}  // namespace

Napi::Value Backend::ReadBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadBandwidthArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  const size_t bytes = static_cast<size_t>(a.megabytes) << 20;
  // The same kind of memory as the weights (huge pages where the OS allows), so GEMV's share of it compares like
  // with like: on 4 KB pages this sweep read 33 GB/s at 1 thread on Zen 5, on 2 MB pages 44.
  size_t mapped = 0;
  uint8_t* p = huge_alloc(bytes, &mapped);
  if (p == nullptr) {
    Napi::TypeError::New(env, "readBandwidth: out of memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::memset(p, 0x5a, bytes);  // touch every page
  double best = 0;
  uint64_t check = 0;
  for (int64_t r = 0; r <= a.reps; r++) {  // r = 0 warms up
    ReadJob job;
    job.kt = kt_;
    job.p = p;
    job.chunks.total = static_cast<int64_t>(bytes);
    job.chunks.chunk = 1 << 20;
    const auto t0 = std::chrono::steady_clock::now();
    pool_->run(read_job, &job);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    check += job.sum.load();
    if (r > 0) best = std::max(best, static_cast<double>(bytes) / s / 1e9);
  }
  huge_free(p, mapped);
  // 0x5a5a… summed: a result the compiler cannot drop; also a cheap self-check of the sweep.
  if (check == 0) best = 0;
  return Napi::Number::New(env, best);
}

}  // namespace glue
}  // namespace trine
