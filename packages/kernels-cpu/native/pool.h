// A fixed pool of native threads for one backend instance. run() executes fn on every thread (the calling JS
// thread is thread 0) and returns when all are done. Workers spin briefly between ops, because a decode step
// issues hundreds of ops back to back, then sleep on a condition variable so an idle backend costs no CPU.
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
  void worker(int tid);
  int size_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> remaining_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace trine
