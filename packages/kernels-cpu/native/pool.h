// A fixed pool of native threads for one backend instance. run() executes fn on the calling JS thread (tid 0) and
// on every worker that arrives in time, and returns once the caller's share is done and every worker that joined
// has finished. Work is split by the jobs themselves (an atomic chunk counter), so a worker that is late — on a
// shared, oversubscribed machine it may not be scheduled for milliseconds — is simply left out instead of being
// waited for. Workers spin briefly between ops (a decode step issues hundreds back to back), then sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace trine {

class ThreadPool {
 public:
  using Fn = void (*)(void* ctx, int tid, int nthreads);
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const { return size_; }
  void run(Fn fn, void* ctx);

 private:
  // state_ = generation (high 32 bits) | closed flag (bit 31) | workers inside the current job (low 31 bits).
  static constexpr uint64_t kClosed = 1ull << 31;
  static constexpr uint64_t kCountMask = kClosed - 1;
  void worker(int tid);
  int size_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> state_{kClosed};
  uint32_t generation_ = 0;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace trine
