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
// decode step, short enough that an idle backend hands its core back quickly.
constexpr auto kSpinFor = std::chrono::microseconds(200);
}  // namespace

ThreadPool::ThreadPool(int threads) : size_(threads < 1 ? 1 : threads) {
  for (int t = 1; t < size_; t++) threads_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
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
  remaining_.store(size_ - 1);
  generation_.fetch_add(1);  // seq_cst: publishes fn_/ctx_ and orders against the sleepers_ read below
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  fn(ctx, 0, size_);
  while (remaining_.load(std::memory_order_acquire) != 0) TRINE_PAUSE();
}

void ThreadPool::worker(int tid) {
  uint64_t seen = 0;
  for (;;) {
    auto spin_start = std::chrono::steady_clock::now();
    unsigned spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      TRINE_PAUSE();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() - spin_start > kSpinFor) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lock, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    fn_(ctx_, tid, size_);
    remaining_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace trine
