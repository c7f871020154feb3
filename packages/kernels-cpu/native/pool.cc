#include "pool.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#define TRINE_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define TRINE_PAUSE() asm volatile("yield")
#else
#define TRINE_PAUSE() ((void)0)
#endif

namespace trine {

namespace {
// How long a worker spins after an op before it sleeps: long enough to bridge the JS between two ops of a
// decode step, short enough that an idle backend hands its core back quickly. After the first few microseconds
// the spin also yields, so on an oversubscribed machine it gives way to threads with work.
constexpr auto kSpinFor = std::chrono::microseconds(200);
constexpr auto kPureSpin = std::chrono::microseconds(20);

uint32_t gen_of(uint64_t s) { return static_cast<uint32_t>(s >> 32); }
}  // namespace

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  for (int t = 1; t < size_; t++) threads_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_++;
    state_.store((static_cast<uint64_t>(generation_) << 32) | kClosed);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run(Fn fn, void* ctx) {
  if (size_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  generation_++;
  state_.store(static_cast<uint64_t>(generation_) << 32);  // seq_cst: publishes fn_/ctx_, opens the job
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  fn(ctx, 0, size_);
  // Close the job: workers that have not joined yet skip it; wait for those inside to leave.
  uint64_t s = state_.fetch_or(kClosed) | kClosed;
  for (unsigned spins = 0; (s & kCountMask) != 0; spins++) {
    if (spins < 4096)
      TRINE_PAUSE();
    else
      std::this_thread::yield();
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker(int tid) {
  uint32_t seen = 0;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    unsigned spins = 0;
    while (gen_of(state_.load(std::memory_order_acquire)) == seen) {
      TRINE_PAUSE();
      if (++spins % 256 != 0) continue;
      const auto waited = std::chrono::steady_clock::now() - start;
      if (waited > kSpinFor) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lock, [&] { return gen_of(state_.load()) != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
      if (waited > kPureSpin) std::this_thread::yield();
    }
    if (stop_.load()) return;
    uint64_t s = state_.load(std::memory_order_acquire);
    seen = gen_of(s);
    // Join only the job of the generation just seen, and only while it is open.
    while (gen_of(s) == seen && (s & kClosed) == 0) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
        fn_(ctx_, tid, size_);
        state_.fetch_sub(1, std::memory_order_release);
        break;
      }
    }
  }
}

}  // namespace trine
