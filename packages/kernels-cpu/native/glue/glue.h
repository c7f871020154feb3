// The addon's N-API glue, one file per op (glue/<op>.cc) around the argument checks (args.h): each method reads
// its arguments with glue::parse, then unpacks them into kernel calls — the kernel table of the chosen code path
// (common.h), the float ops (ops.h) — split over the backend's thread pool where the op is large.
#pragma once
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../common.h"
#include "../ops.h"
#include "../pool.h"
#include "args.h"

namespace trine {
namespace glue {

// Parallel jobs. Work is split into chunks of output rows taken from an atomic counter (every row is summed by
// exactly one thread, so results do not depend on the thread count or on scheduling).
struct Chunks {
  std::atomic<int64_t> next{0};
  int64_t total = 0, chunk = 1;
  template <typename F>
  void each(F&& f) {
    for (;;) {
      const int64_t start = next.fetch_add(chunk, std::memory_order_relaxed);
      if (start >= total) return;
      f(start, std::min(total, start + chunk));
    }
  }
};

// Rows per chunk: about 8 chunks per thread (so a thread slowed by a neighbour process is covered by the others),
// a multiple of `align` (ternary chunks must start on a 16-row group).
inline int64_t chunk_rows(int64_t total, int threads, int64_t min_rows, int64_t align) {
  int64_t c = total / (static_cast<int64_t>(threads) * 8);
  c = std::max(min_rows, c);
  return (c + align - 1) / align * align;
}

constexpr size_t kAlign = 64;

// `bytes` of 64-byte aligned native memory as an external ArrayBuffer (memory.cc); an empty value with a JS
// exception pending when out of memory. `huge`: weights, on 2 MB pages where the OS allows (memory.cc).
Napi::ArrayBuffer aligned_buffer(Napi::Env env, size_t bytes, bool zero, bool huge = false);
void advise_huge_pages(const void* p, size_t bytes);
// Memory like the weights' (2 MB pages where allowed), for the bandwidth probe; null when out of memory.
uint8_t* huge_alloc(size_t bytes, size_t* mapped);
void huge_free(uint8_t* p, size_t mapped);

// The backend object: one per createCpuBackend() call. Methods are defined in the op's file.
class Backend : public Napi::ObjectWrap<Backend> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Backend(const Napi::CallbackInfo& info);

 private:
  bool alive(Napi::Env env);

  Napi::Value Variant(const Napi::CallbackInfo& info);
  Napi::Value Threads(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Quantize(const Napi::CallbackInfo& info);        // quantize.cc
  Napi::Value TernaryMatmul(const Napi::CallbackInfo& info);   // ternary_matmul.cc
  Napi::Value LmHead(const Napi::CallbackInfo& info);          // lm_head.cc
  Napi::Value Embedding(const Napi::CallbackInfo& info);       // embedding.cc
  Napi::Value RmsNorm(const Napi::CallbackInfo& info);         // rms_norm.cc
  Napi::Value Add(const Napi::CallbackInfo& info);             // add.cc
  Napi::Value Rope(const Napi::CallbackInfo& info);            // rope.cc
  Napi::Value Gated(const Napi::CallbackInfo& info);           // gated_activation.cc
  Napi::Value Argmax(const Napi::CallbackInfo& info);          // argmax.cc
  Napi::Value KvStore(const Napi::CallbackInfo& info);         // kv_store.cc
  Napi::Value Attention(const Napi::CallbackInfo& info);       // attention.cc
  Napi::Value ReadBandwidth(const Napi::CallbackInfo& info);   // read_bandwidth.cc
  Napi::Value GemvKernels(const Napi::CallbackInfo& info);     // ternary_matmul.cc
  Napi::Value SetGemv(const Napi::CallbackInfo& info);         // ternary_matmul.cc

  // A decode step ropes Q and K of every layer at the same positions (60 calls for 2B4T): the angles (a pow, a
  // cos and a sin per pair) are computed once per position and kept in a small ring (rope.cc).
  struct RopeAngles {
    double theta = 0;
    int64_t rd = -1;
    int32_t pos = 0;
    std::vector<float> cs;
  };
  static constexpr size_t kRopeCache = 64;
  const float* rope_cs(double theta, int64_t rd, int32_t pos);

  const KernelTable* kt_ = nullptr;
  // The batch-1 kernel (an index into kt_->gemv) per matrix shape, as measured (src/tune.ts); [0] when unset.
  struct GemvPick {
    int64_t n, k;
    int index;
  };
  std::vector<GemvPick> gemv_pick_;
  std::unique_ptr<ThreadPool> pool_;
  // Scratch kept across calls (grown, never shrunk).
  std::vector<int8_t> qpad_;
  std::vector<int32_t> qsum_;
  std::vector<int32_t> acc_;
  std::vector<float> xsel_;
  std::vector<int16_t> x16_;
  std::vector<float> xinv_;
  std::vector<std::vector<float>> scratch_;
  std::vector<RopeAngles> rope_cache_ = std::vector<RopeAngles>(kRopeCache);
  size_t rope_next_ = 0;
};

// Host features and code paths (host.cc).
struct Features {
  bool avx2 = false, fma = false, f16c = false, avx512 = false, neon_dot = false;
};
Features detect();
// The table for a variant name, or null with `why` set when the host (or this build) cannot run it.
const KernelTable* table_for(const std::string& v, const Features& f, std::string& why);

// Module-level functions (no backend state).
Napi::Value RepackTernary(const Napi::CallbackInfo& info);     // repack.cc
Napi::Value UnpackTernaryRow(const Napi::CallbackInfo& info);  // repack.cc
Napi::Value QuantizeQ8(const Napi::CallbackInfo& info);        // quantize_q8.cc
Napi::Value AllocAligned(const Napi::CallbackInfo& info);      // memory.cc
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info);   // memory.cc
Napi::Value AllocWeights(const Napi::CallbackInfo& info);      // memory.cc
Napi::Value HostInfo(const Napi::CallbackInfo& info);          // host.cc

}  // namespace glue
}  // namespace trine
