// N-API glue of the native CPU backend. Compiled WITHOUT SIMD flags: it reaches SIMD code only through the
// KernelTable chosen at run time, so the addon loads on any CPU of its architecture. Context-aware (Napi::Addon):
// every worker_thread that loads it gets its own instance, and all mutable state lives in Backend objects.
//
// Storage: tensors are JS typed arrays (the JS side owns them); ternary matrices, output matrices and KV caches
// live in 64-byte aligned native buffers exposed as external ArrayBuffers. The JS side validates shapes; this file
// re-checks every byte length it indexes, so a bad call throws instead of touching memory it does not own.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "ops.h"
#include "pool.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__unix__)
#include <sys/mman.h>
#endif

namespace trine {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Host features and code paths

struct Features {
  bool avx2 = false, fma = false, f16c = false, avx512 = false, neon_dot = false;
};

Features detect() {
  Features f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
#if defined(__aarch64__)
  f.neon_dot = arm_features().dotprod;  // arm/detect.cc
#endif
  return f;
}

// Returns the table for a variant name, or null with `why` set when the host (or this build) cannot run it.
const KernelTable* table_for(const std::string& v, const Features& f, std::string& why) {
  if (v == "scalar") return &kScalarTable;
#if defined(__x86_64__)
  if (v == "avx2") {
    if (f.avx2 && f.fma && f.f16c) return &kAvx2Table;
    why = "this CPU lacks AVX2/FMA/F16C";
    return nullptr;
  }
  if (v == "avx512" || v == "avx512vnni") {
    if (f.avx512 && f.f16c && f.fma) return &kAvx512Table;
    why = "this CPU lacks AVX-512 F/BW/VL/VNNI";
    return nullptr;
  }
#endif
#if defined(__aarch64__)
  const char* arm_why = nullptr;
  if (const KernelTable* t = arm_table(v.c_str(), arm_features(), &arm_why)) return t;
  if (arm_why != nullptr) {
    why = arm_why;
    return nullptr;
  }
#endif
  why = "unknown or unavailable variant '" + v + "' (scalar, avx2, avx512, neon, dotprod, i8mm)";
  return nullptr;
}

const char* best_variant(const Features& f) {
  if (f.avx512 && f.f16c && f.fma) return "avx512";
  if (f.avx2 && f.fma && f.f16c) return "avx2";
#if defined(__aarch64__)
  return arm_best(arm_features());  // NEON is baseline on AArch64
#endif
  return "scalar";
}

// ---------------------------------------------------------------------------------------------------------------
// Aligned native buffers exposed to JS as external ArrayBuffers.

constexpr size_t kAlign = 64;

Napi::ArrayBuffer aligned_buffer(Napi::Env env, size_t bytes, bool zero) {
#if defined(__unix__)
  // Large zeroed buffers (KV caches) come straight from mmap: page aligned, and zero pages cost no memory until
  // written, so a long context that is never filled does not count in RSS.
  if (zero && bytes >= (1u << 20)) {
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      Napi::Error::New(env, "out of memory mapping " + std::to_string(bytes) + " bytes").ThrowAsJavaScriptException();
      return Napi::ArrayBuffer();
    }
    return Napi::ArrayBuffer::New(
        env, m, bytes, [](Napi::Env, void* data, size_t* len) { munmap(data, *len); delete len; }, new size_t(bytes));
  }
#endif
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  if (p == nullptr) {
    Napi::Error::New(env, "out of memory allocating " + std::to_string(bytes) + " bytes").ThrowAsJavaScriptException();
    return Napi::ArrayBuffer();
  }
  if (zero) std::memset(p, 0, rounded == 0 ? kAlign : rounded);
  return Napi::ArrayBuffer::New(env, p, bytes, [](Napi::Env, void* data) { std::free(data); });
}

// ---------------------------------------------------------------------------------------------------------------
// Argument access: every pointer comes with its byte length, checked before use.

struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
};

bool fail(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

bool get_bytes(const Napi::CallbackInfo& info, size_t i, Bytes& out, const char* name) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    out.data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    out.len = ta.ByteLength();
    return true;
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    out.data = static_cast<uint8_t*>(ab.Data());
    out.len = ab.ByteLength();
    return true;
  }
  return fail(info.Env(), std::string(name) + ": expected a typed array or ArrayBuffer");
}

bool need(const Napi::CallbackInfo& info, const Bytes& b, double bytes, const char* name) {
  if (bytes < 0 || static_cast<double>(b.len) < bytes)
    return fail(info.Env(), std::string(name) + ": buffer holds " + std::to_string(b.len) + " bytes, needs " +
                                std::to_string(static_cast<int64_t>(bytes)));
  return true;
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
double num_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

// ---------------------------------------------------------------------------------------------------------------
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
int64_t chunk_rows(int64_t total, int threads, int64_t min_rows, int64_t align) {
  int64_t c = total / (static_cast<int64_t>(threads) * 8);
  c = std::max(min_rows, c);
  return (c + align - 1) / align * align;
}

enum Scheme { kPerToken = 0, kPerBlock256 = 1 };
enum Granularity { kTensor = 0, kBlock256 = 1 };
enum MatFormat { kF32 = 0, kF16 = 1, kQ8 = 2 };

struct TernaryJob {
  const KernelTable* kt;
  TernaryMat w;
  const int8_t* q;
  const int32_t* qsum;
  int nt, groups;
  int32_t* acc;
  int64_t acc_stride;
  // Float epilogue (out == nullptr: the caller wants the raw accumulators in acc).
  float* out;
  const float* ascale;  // [nt, groups]
  const float* wscale;  // 1 (tensor) or [N, groups]
  int gran;
  int scheme;
  Chunks chunks;
};

void ternary_job(void* ctx, int, int) {
  TernaryJob& j = *static_cast<TernaryJob*>(ctx);
  j.chunks.each([&](int64_t n0, int64_t n1) {
    j.kt->ternary_acc(j.w, j.q, j.qsum, j.nt, n0, n1, j.groups, j.acc, j.acc_stride);
    if (j.out == nullptr) return;
    const int64_t n_out = j.w.rows;
    for (int t = 0; t < j.nt; t++) {
      const int32_t* a = j.acc + t * j.acc_stride;
      float* o = j.out + t * n_out;
      if (j.scheme == kPerToken) {
        // y = f32(f32(acc / s) · w_scale)
        const float s = j.ascale[t], ws = j.wscale[0];
        for (int64_t n = n0; n < n1; n++) o[n] = (static_cast<float>(a[n]) / s) * ws;
      } else {
        // y = Σ_g f32(acc_g · f32(d_w,g · d_a,g)), in block order
        const float* da = j.ascale + t * j.groups;
        for (int64_t n = n0; n < n1; n++) {
          const float* dw = j.gran == kBlock256 ? j.wscale + n * j.groups : nullptr;
          float y = 0.f;
          for (int g = 0; g < j.groups; g++) {
            const float d = (dw != nullptr ? dw[g] : j.wscale[0]) * da[g];
            y += static_cast<float>(a[n * j.groups + g]) * d;
          }
          o[n] = y;
        }
      }
    }
  });
}

struct LmJob {
  const KernelTable* kt;
  int format;
  const void* w;
  const float* scales;
  int64_t k;
  const float* x;
  const int16_t* x16;  // q8 only
  int64_t kx;
  const float* xinv;
  int nt;
  float* out;
  int64_t out_stride;
  Chunks chunks;
};

void lm_job(void* ctx, int, int) {
  LmJob& j = *static_cast<LmJob*>(ctx);
  j.chunks.each([&](int64_t r0, int64_t r1) {
    if (j.format == kF16)
      j.kt->lm_f16(static_cast<const uint16_t*>(j.w), j.k, r0, r1, j.x, j.nt, j.out, j.out_stride);
    else if (j.format == kF32)
      j.kt->lm_f32(static_cast<const float*>(j.w), j.k, r0, r1, j.x, j.nt, j.out, j.out_stride);
    else
      j.kt->lm_q8(static_cast<const int8_t*>(j.w), j.scales, j.k, r0, r1, j.x16, j.kx, j.xinv, j.nt, j.out,
                  j.out_stride);
  });
}

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

// ---------------------------------------------------------------------------------------------------------------
// The backend object: one per createCpuBackend() call.

class Backend : public Napi::ObjectWrap<Backend> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeCpuBackend",
                       {
                           InstanceMethod("variant", &Backend::Variant),
                           InstanceMethod("threads", &Backend::Threads),
                           InstanceMethod("destroy", &Backend::Destroy),
                           InstanceMethod("quantize", &Backend::Quantize),
                           InstanceMethod("ternaryMatmul", &Backend::TernaryMatmul),
                           InstanceMethod("lmHead", &Backend::LmHead),
                           InstanceMethod("embedding", &Backend::Embedding),
                           InstanceMethod("rmsNorm", &Backend::RmsNorm),
                           InstanceMethod("add", &Backend::Add),
                           InstanceMethod("rope", &Backend::Rope),
                           InstanceMethod("gated", &Backend::Gated),
                           InstanceMethod("argmax", &Backend::Argmax),
                           InstanceMethod("kvStore", &Backend::KvStore),
                           InstanceMethod("attention", &Backend::Attention),
                           InstanceMethod("readBandwidth", &Backend::ReadBandwidth),
                       });
  }

  // new NativeCpuBackend(variant: string, threads: number)
  explicit Backend(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Backend>(info) {
    Napi::Env env = info.Env();
    const std::string v = info[0].As<Napi::String>().Utf8Value();
    std::string why;
    kt_ = table_for(v, detect(), why);
    if (kt_ == nullptr) {
      Napi::Error::New(env, why).ThrowAsJavaScriptException();
      return;
    }
    const int64_t threads = int_arg(info, 1);
    pool_ = std::make_unique<ThreadPool>(static_cast<int>(std::clamp<int64_t>(threads, 1, 256)));
  }

 private:
  bool alive(Napi::Env env) {
    if (pool_) return true;
    Napi::Error::New(env, "backend destroyed").ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Variant(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kt_ ? kt_->name : ""); }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), pool_ ? pool_->size() : 0);
  }
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    pool_.reset();
    return info.Env().Undefined();
  }

  // quantize(scheme, x f32, rows, k, q i8, scales f32): q/scales rows have strides k and groups.
  Napi::Value Quantize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    const int scheme = static_cast<int>(int_arg(info, 0));
    Bytes x, q, sc;
    if (!get_bytes(info, 1, x, "x") || !get_bytes(info, 4, q, "q") || !get_bytes(info, 5, sc, "scales"))
      return env.Undefined();
    const int64_t rows = int_arg(info, 2), k = int_arg(info, 3);
    if (rows < 0 || k <= 0 || (scheme == kPerBlock256 && k % 256 != 0)) {
      fail(env, "quantize: bad rows/k");
      return env.Undefined();
    }
    const int64_t groups = scheme == kPerToken ? 1 : k / 256;
    if (!need(info, x, 4.0 * rows * k, "x") || !need(info, q, 1.0 * rows * k, "q") ||
        !need(info, sc, 4.0 * rows * groups, "scales"))
      return env.Undefined();
    const float* xf = reinterpret_cast<const float*>(x.data);
    int8_t* qi = reinterpret_cast<int8_t*>(q.data);
    float* s = reinterpret_cast<float*>(sc.data);
    for (int64_t r = 0; r < rows; r++) {
      if (scheme == kPerToken) {
        s[r] = kt_->quant_per_token(xf + r * k, k, qi + r * k);
      } else {
        for (int64_t g = 0; g < groups; g++)
          s[r * groups + g] = kt_->quant_block256(xf + r * k + g * 256, qi + r * k + g * 256);
      }
    }
    return env.Undefined();
  }

  // ternaryMatmul(out, wantAcc, scheme, q, qscales, k, packed, n, wscales, granularity, rows)
  Napi::Value TernaryMatmul(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    Bytes out, q, qs, packed, ws;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 3, q, "q") || !get_bytes(info, 4, qs, "qscales") ||
        !get_bytes(info, 6, packed, "packed") || !get_bytes(info, 8, ws, "wscales"))
      return env.Undefined();
    const bool want_acc = info[1].As<Napi::Boolean>().Value();
    const int scheme = static_cast<int>(int_arg(info, 2));
    const int64_t k = int_arg(info, 5), n = int_arg(info, 7);
    const int gran = static_cast<int>(int_arg(info, 9));
    const int64_t rows = int_arg(info, 10);
    if (k <= 0 || n <= 0 || rows < 0 || rows > (1 << 20)) {
      fail(env, "ternaryMatmul: bad k/n/rows");
      return env.Undefined();
    }
    if (scheme == kPerBlock256 && k % 256 != 0) {
      fail(env, "ternaryMatmul: per_block256 needs k % 256 == 0");
      return env.Undefined();
    }
    const int groups = scheme == kPerToken ? 1 : static_cast<int>(k / 256);
    TernaryMat w{packed.data, n, k, padded_cols(k), kTileRows * padded_cols(k) / 4};
    if (!need(info, packed, static_cast<double>(t16_bytes(n, k)), "packed") || !need(info, q, 1.0 * rows * k, "q") ||
        !need(info, qs, 4.0 * rows * groups, "qscales") ||
        !need(info, ws, gran == kBlock256 ? 4.0 * n * (k / 256) : 4.0, "wscales") ||
        !need(info, out, 4.0 * rows * n * (want_acc ? groups : 1), "out"))
      return env.Undefined();
    if (rows == 0) return env.Undefined();

    // Activations in the kernels' form: rows of kp int8 (zero padded) and their per-group sums.
    const int8_t* qptr = reinterpret_cast<const int8_t*>(q.data);
    if (w.kp != k) {
      qpad_.assign(static_cast<size_t>(rows * w.kp), 0);
      for (int64_t r = 0; r < rows; r++) std::memcpy(qpad_.data() + r * w.kp, qptr + r * k, static_cast<size_t>(k));
      qptr = qpad_.data();
    }
    qsum_.resize(static_cast<size_t>(rows * groups));
    const int64_t per_group = w.kp / groups;
    for (int64_t r = 0; r < rows; r++)
      for (int g = 0; g < groups; g++) {
        int32_t s = 0;
        const int8_t* p = qptr + r * w.kp + g * per_group;
        for (int64_t i = 0; i < per_group; i++) s += p[i];
        qsum_[r * groups + g] = s;
      }

    TernaryJob job;
    job.kt = kt_;
    job.w = w;
    job.q = qptr;
    job.qsum = qsum_.data();
    job.nt = static_cast<int>(rows);
    job.groups = groups;
    job.gran = gran;
    job.scheme = scheme;
    job.ascale = reinterpret_cast<const float*>(qs.data);
    job.wscale = reinterpret_cast<const float*>(ws.data);
    if (want_acc) {
      job.acc = reinterpret_cast<int32_t*>(out.data);
      job.out = nullptr;
    } else {
      acc_.resize(static_cast<size_t>(rows * n * groups));
      job.acc = acc_.data();
      job.out = reinterpret_cast<float*>(out.data);
    }
    job.acc_stride = n * groups;
    job.chunks.total = n;
    job.chunks.chunk = chunk_rows(n, pool_->size(), rows > 1 ? 16 : 32, kTileRows);
    pool_->run(ternary_job, &job);
    return env.Undefined();
  }

  // lmHead(out, x, d, select, format, matrix, scales, vocab): x rows are rounded to f16 first for f16/q8.
  Napi::Value LmHead(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    Bytes out, x, sel, mat, sc;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, x, "x") || !get_bytes(info, 3, sel, "select") ||
        !get_bytes(info, 5, mat, "matrix") || !get_bytes(info, 6, sc, "scales"))
      return env.Undefined();
    const int64_t d = int_arg(info, 2), vocab = int_arg(info, 7);
    const int format = static_cast<int>(int_arg(info, 4));
    const int64_t nt = static_cast<int64_t>(sel.len / 4);
    const double elem = format == kF32 ? 4 : (format == kF16 ? 2 : 1);
    if (d <= 0 || vocab <= 0 || !need(info, mat, elem * vocab * d, "matrix") ||
        !need(info, out, 4.0 * nt * vocab, "out") || (format == kQ8 && !need(info, sc, 4.0 * vocab, "scales")))
      return env.Undefined();
    const int32_t* s = reinterpret_cast<const int32_t*>(sel.data);
    const float* xf = reinterpret_cast<const float*>(x.data);
    xsel_.resize(static_cast<size_t>(nt * d));
    for (int64_t t = 0; t < nt; t++) {
      if (s[t] < 0 || !need(info, x, 4.0 * (static_cast<double>(s[t]) + 1) * d, "x")) {
        if (s[t] < 0) fail(env, "select: negative row");
        return env.Undefined();
      }
      const float* src = xf + static_cast<int64_t>(s[t]) * d;
      float* dst = xsel_.data() + t * d;
      for (int64_t i = 0; i < d; i++) dst[i] = format == kF32 ? src[i] : round_f16(src[i]);
    }
    if (nt == 0) return env.Undefined();
    LmJob job;
    job.x16 = nullptr;
    job.kx = (d + 31) / 32 * 32;
    job.xinv = nullptr;
    if (format == kQ8) {
      // int16 activations for the q8 kernels (common.h LmQ8Fn), zero padded to a multiple of 32.
      x16_.assign(static_cast<size_t>(nt * job.kx), 0);
      xinv_.resize(static_cast<size_t>(nt));
      for (int64_t t = 0; t < nt; t++) {
        const float* xr = xsel_.data() + t * d;
        float m = 0.f;
        for (int64_t i = 0; i < d; i++) m = std::max(m, std::fabs(xr[i]));
        const float sx = m > 0.f ? 32767.f / m : 0.f;
        for (int64_t i = 0; i < d; i++)
          x16_[t * job.kx + i] = static_cast<int16_t>(std::clamp(std::nearbyint(xr[i] * sx), -32767.f, 32767.f));
        xinv_[t] = m / 32767.f;
      }
      job.x16 = x16_.data();
      job.xinv = xinv_.data();
    }
    job.kt = kt_;
    job.format = format;
    job.w = mat.data;
    job.scales = reinterpret_cast<const float*>(sc.data);
    job.k = d;
    job.x = xsel_.data();
    job.nt = static_cast<int>(nt);
    job.out = reinterpret_cast<float*>(out.data);
    job.out_stride = vocab;
    job.chunks.total = vocab;
    // Whole 24-row blocks per chunk (the batched kernel's unit; 4 for the others divides it).
    job.chunks.chunk = chunk_rows(vocab, pool_->size(), 72, 24);
    pool_->run(lm_job, &job);
    return env.Undefined();
  }

  // embedding(out, ids, format, matrix, scales, vocab, d)
  Napi::Value Embedding(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    Bytes out, ids, mat, sc;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, ids, "ids") || !get_bytes(info, 3, mat, "matrix") ||
        !get_bytes(info, 4, sc, "scales"))
      return env.Undefined();
    const int format = static_cast<int>(int_arg(info, 2));
    const int64_t vocab = int_arg(info, 5), d = int_arg(info, 6);
    const int64_t n = static_cast<int64_t>(ids.len / 4);
    const double elem = format == kF32 ? 4 : (format == kF16 ? 2 : 1);
    if (!need(info, mat, elem * vocab * d, "matrix") || !need(info, out, 4.0 * n * d, "out") ||
        (format == kQ8 && !need(info, sc, 4.0 * vocab, "scales")))
      return env.Undefined();
    const int32_t* id = reinterpret_cast<const int32_t*>(ids.data);
    float* o = reinterpret_cast<float*>(out.data);
    for (int64_t i = 0; i < n; i++) {
      const int64_t r = id[i];
      if (r < 0 || r >= vocab) {
        fail(env, "ids[" + std::to_string(i) + "]: token id out of range");
        return env.Undefined();
      }
      for (int64_t c = 0; c < d; c++) {
        if (format == kF32)
          o[i * d + c] = reinterpret_cast<const float*>(mat.data)[r * d + c];
        else if (format == kF16)
          o[i * d + c] = f16_to_f32(reinterpret_cast<const uint16_t*>(mat.data)[r * d + c]);
        else
          o[i * d + c] = static_cast<float>(reinterpret_cast<const int8_t*>(mat.data)[r * d + c]) *
                         reinterpret_cast<const float*>(sc.data)[r];
      }
    }
    return env.Undefined();
  }

  // rmsNorm(out, x, weight, eps, rows, d)
  Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes out, x, w;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, x, "x") || !get_bytes(info, 2, w, "weight"))
      return env.Undefined();
    const int64_t rows = int_arg(info, 4), d = int_arg(info, 5);
    if (!need(info, out, 4.0 * rows * d, "out") || !need(info, x, 4.0 * rows * d, "x") || !need(info, w, 4.0 * d, "weight"))
      return env.Undefined();
    const float eps = static_cast<float>(num_arg(info, 3));
    float* o = reinterpret_cast<float*>(out.data);
    const float* xs = reinterpret_cast<const float*>(x.data);
    const float* ws = reinterpret_cast<const float*>(w.data);
    // Rows split over the pool once there are several (batched decode: 8 tokens × 121 norms a step); each row is
    // still summed by one thread in one order.
    if (rows < 2 || pool_->size() < 2) {
      rms_norm_rows(o, xs, ws, eps, rows, d);
      return env.Undefined();
    }
    RmsJob job{o, xs, ws, eps, d, {}};
    job.chunks.total = rows;
    job.chunks.chunk = std::max<int64_t>(1, rows / (static_cast<int64_t>(pool_->size()) * 4));
    pool_->run(rms_job, &job);
    return env.Undefined();
  }

  // add(out, a, b, count)
  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes out, a, b;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, a, "a") || !get_bytes(info, 2, b, "b"))
      return env.Undefined();
    const int64_t count = int_arg(info, 3);
    if (!need(info, out, 4.0 * count, "out") || !need(info, a, 4.0 * count, "a") || !need(info, b, 4.0 * count, "b"))
      return env.Undefined();
    add_f32(reinterpret_cast<float*>(out.data), reinterpret_cast<const float*>(a.data),
            reinterpret_cast<const float*>(b.data), count);
    return env.Undefined();
  }

  // rope(x, heads, headDim, ropeDim, theta, positions, n)
  Napi::Value Rope(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes x, pos;
    if (!get_bytes(info, 0, x, "x") || !get_bytes(info, 5, pos, "positions")) return env.Undefined();
    const int64_t heads = int_arg(info, 1), dh = int_arg(info, 2), rd = int_arg(info, 3), n = int_arg(info, 6);
    const double theta = num_arg(info, 4);
    if (rd < 0 || rd > dh || rd % 2 != 0 || !need(info, x, 4.0 * n * heads * dh, "x") || !need(info, pos, 4.0 * n, "positions"))
      return env.Undefined();
    const int32_t* p = reinterpret_cast<const int32_t*>(pos.data);
    for (int64_t i = 0; i < n; i++)
      rope_apply(reinterpret_cast<float*>(x.data) + i * heads * dh, heads, dh, rd, rope_cs(theta, rd, p[i]));
    return env.Undefined();
  }

  // A decode step ropes Q and K of every layer at the same positions (60 calls for 2B4T): the angles (a pow, a
  // cos and a sin per pair) are computed once per position and kept in a small ring. rd is bounded by x's size.
  struct RopeAngles {
    double theta = 0;
    int64_t rd = -1;
    int32_t pos = 0;
    std::vector<float> cs;
  };
  static constexpr size_t kRopeCache = 64;
  std::vector<RopeAngles> rope_cache_ = std::vector<RopeAngles>(kRopeCache);
  size_t rope_next_ = 0;
  const float* rope_cs(double theta, int64_t rd, int32_t pos) {
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

  // gated(out, gate, up, act, count)
  Napi::Value Gated(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes out, g, u;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, g, "gate") || !get_bytes(info, 2, u, "up"))
      return env.Undefined();
    const int64_t count = int_arg(info, 4);
    if (!need(info, out, 4.0 * count, "out") || !need(info, g, 4.0 * count, "gate") || !need(info, u, 4.0 * count, "up"))
      return env.Undefined();
    gated_act(reinterpret_cast<float*>(out.data), reinterpret_cast<const float*>(g.data),
              reinterpret_cast<const float*>(u.data), static_cast<int>(int_arg(info, 3)), count);
    return env.Undefined();
  }

  // argmax(out i32, logits, rows, vocab)
  Napi::Value Argmax(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes out, x;
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, x, "logits")) return env.Undefined();
    const int64_t rows = int_arg(info, 2), v = int_arg(info, 3);
    if (v <= 0 || !need(info, out, 4.0 * rows, "out") || !need(info, x, 4.0 * rows * v, "logits")) return env.Undefined();
    for (int64_t r = 0; r < rows; r++)
      reinterpret_cast<int32_t*>(out.data)[r] = argmax_row(reinterpret_cast<const float*>(x.data) + r * v, v);
    return env.Undefined();
  }

  static bool kv_layout(const Napi::CallbackInfo& info, size_t i, KvLayout& kv) {
    Napi::Object o = info[i].As<Napi::Object>();
    kv.layers = o.Get("layers").As<Napi::Number>().Int64Value();
    kv.slots = o.Get("slots").As<Napi::Number>().Int64Value();
    kv.context = o.Get("context").As<Napi::Number>().Int64Value();
    kv.kv_heads = o.Get("kvHeads").As<Napi::Number>().Int64Value();
    kv.head_dim = o.Get("headDim").As<Napi::Number>().Int64Value();
    kv.f16 = o.Get("dtype").As<Napi::String>().Utf8Value() == "f16";
    return kv.layers > 0 && kv.slots > 0 && kv.context > 0 && kv.kv_heads > 0 && kv.head_dim > 0 && kv.head_dim <= 512;
  }

  // kvStore(cache, spec, layer, k, v, positions, slots, n)
  Napi::Value KvStore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bytes cache, k, v, pos, sl;
    KvLayout kv{};
    if (!get_bytes(info, 0, cache, "cache") || !kv_layout(info, 1, kv) || !get_bytes(info, 3, k, "k") ||
        !get_bytes(info, 4, v, "v") || !get_bytes(info, 5, pos, "positions") || !get_bytes(info, 6, sl, "slots")) {
      if (!env.IsExceptionPending()) fail(env, "kvStore: bad cache spec");
      return env.Undefined();
    }
    const int64_t layer = int_arg(info, 2), n = int_arg(info, 7);
    const int64_t row = kv.kv_heads * kv.head_dim;
    if (!need(info, cache, (kv.f16 ? 4.0 : 8.0) * kv.elements(), "cache") || !need(info, k, 4.0 * n * row, "k") ||
        !need(info, v, 4.0 * n * row, "v") || !need(info, pos, 4.0 * n, "positions") || !need(info, sl, 4.0 * n, "slots"))
      return env.Undefined();
    const int32_t* p = reinterpret_cast<const int32_t*>(pos.data);
    const int32_t* s = reinterpret_cast<const int32_t*>(sl.data);
    if (layer < 0 || layer >= kv.layers) {
      fail(env, "kvStore: layer out of range");
      return env.Undefined();
    }
    for (int64_t i = 0; i < n; i++) {
      if (p[i] < 0 || p[i] >= kv.context || s[i] < 0 || s[i] >= kv.slots) {
        fail(env, "kvStore: position or slot out of range");
        return env.Undefined();
      }
      kv_store_token(cache.data, kv, layer, s[i], p[i], reinterpret_cast<const float*>(k.data) + i * row,
                     reinterpret_cast<const float*>(v.data) + i * row, *kt_);
    }
    return env.Undefined();
  }

  // attention(out, q, cache, spec, layer, positions, slots, n, heads, scale, roundProbs)
  Napi::Value Attention(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    Bytes out, q, cache, pos, sl;
    KvLayout kv{};
    if (!get_bytes(info, 0, out, "out") || !get_bytes(info, 1, q, "q") || !get_bytes(info, 2, cache, "cache") ||
        !kv_layout(info, 3, kv) || !get_bytes(info, 5, pos, "positions") || !get_bytes(info, 6, sl, "slots")) {
      if (!env.IsExceptionPending()) fail(env, "attention: bad cache spec");
      return env.Undefined();
    }
    const int64_t layer = int_arg(info, 4), n = int_arg(info, 7), heads = int_arg(info, 8);
    if (heads <= 0 || heads % kv.kv_heads != 0 || layer < 0 || layer >= kv.layers) {
      fail(env, "attention: heads must be a multiple of kvHeads and layer in range");
      return env.Undefined();
    }
    if (!need(info, cache, (kv.f16 ? 4.0 : 8.0) * kv.elements(), "cache") ||
        !need(info, q, 4.0 * n * heads * kv.head_dim, "q") || !need(info, out, 4.0 * n * heads * kv.head_dim, "out") ||
        !need(info, pos, 4.0 * n, "positions") || !need(info, sl, 4.0 * n, "slots"))
      return env.Undefined();
    const int32_t* p = reinterpret_cast<const int32_t*>(pos.data);
    const int32_t* s = reinterpret_cast<const int32_t*>(sl.data);
    for (int64_t i = 0; i < n; i++)
      if (p[i] < 0 || p[i] >= kv.context || s[i] < 0 || s[i] >= kv.slots) {
        fail(env, "attention: position or slot out of range");
        return env.Undefined();
      }
    if (n == 0) return env.Undefined();
    scratch_.resize(static_cast<size_t>(pool_->size()));
    for (auto& v : scratch_)
      if (static_cast<int64_t>(v.size()) < kv.context) v.resize(static_cast<size_t>(kv.context));
    AttnJob job;
    job.kt = kt_;
    job.out = reinterpret_cast<float*>(out.data);
    job.q = reinterpret_cast<const float*>(q.data);
    job.cache = cache.data;
    job.kv = kv;
    job.layer = layer;
    job.heads = heads;
    job.group = heads / kv.kv_heads;
    job.positions = p;
    job.slots = s;
    job.scale = static_cast<float>(num_arg(info, 9));
    job.round_probs = info[10].As<Napi::Boolean>().Value();
    job.scratch = &scratch_;
    job.chunks.total = n * heads;
    job.chunks.chunk = 1;
    pool_->run(attn_job, &job);
    return env.Undefined();
  }

  // readBandwidth(megabytes, reps) → best GB/s of a read-only sweep over a buffer of that size, split over the
  // pool in 1 MiB chunks with the path's widest loads: the STREAM-like ceiling GEMV bandwidth is compared with.
  Napi::Value ReadBandwidth(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    const int64_t mb = int_arg(info, 0), reps = int_arg(info, 1);
    if (mb < 1 || mb > 65536 || reps < 1 || reps > 100) {
      fail(env, "readBandwidth: megabytes in [1, 65536], reps in [1, 100]");
      return env.Undefined();
    }
    const size_t bytes = static_cast<size_t>(mb) << 20;
    uint8_t* p = static_cast<uint8_t*>(std::aligned_alloc(kAlign, bytes));
    if (p == nullptr) {
      fail(env, "readBandwidth: out of memory");
      return env.Undefined();
    }
    std::memset(p, 0x5a, bytes);  // touch every page
    double best = 0;
    uint64_t check = 0;
    for (int64_t r = 0; r <= reps; r++) {  // r = 0 warms up
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
    std::free(p);
    // 0x5a5a… summed: a result the compiler cannot drop; also a cheap self-check of the sweep.
    if (check == 0) best = 0;
    return Napi::Number::New(env, best);
  }

  const KernelTable* kt_ = nullptr;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<int8_t> qpad_;
  std::vector<int32_t> qsum_;
  std::vector<int32_t> acc_;
  std::vector<float> xsel_;
  std::vector<int16_t> x16_;
  std::vector<float> xinv_;
  std::vector<std::vector<float>> scratch_;
};

// ---------------------------------------------------------------------------------------------------------------
// Module-level functions (no backend state).

// repackTernary(format: 0 codes | 1 i2_s | 2 tq2_0 | 3 tq1_0, data, rows, cols) → ArrayBuffer (T16)
Napi::Value RepackTernary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int format = static_cast<int>(int_arg(info, 0));
  Bytes src;
  if (!get_bytes(info, 1, src, "data")) return env.Undefined();
  const int64_t rows = int_arg(info, 2), cols = int_arg(info, 3);
  if (rows <= 0 || cols <= 0 || rows > (1LL << 24) || cols > (1LL << 24)) {
    fail(env, "repack: bad shape");
    return env.Undefined();
  }
  double needed = 0;
  switch (format) {
    case 0: needed = 1.0 * rows * cols; break;
    case 1: needed = 1.0 * rows * cols / 4; if (cols % 128 != 0) { fail(env, "i2_s needs cols % 128 == 0"); return env.Undefined(); } break;
    case 2: needed = 66.0 * rows * (cols / 256); if (cols % 256 != 0) { fail(env, "tq2_0 needs cols % 256 == 0"); return env.Undefined(); } break;
    case 3: needed = 54.0 * rows * (cols / 256); if (cols % 256 != 0) { fail(env, "tq1_0 needs cols % 256 == 0"); return env.Undefined(); } break;
    default: fail(env, "repack: unknown format"); return env.Undefined();
  }
  if (!need(info, src, needed, "data")) return env.Undefined();
  if (format == 0) {
    const int8_t* c = reinterpret_cast<const int8_t*>(src.data);
    for (int64_t i = 0; i < rows * cols; i++)
      if (c[i] < -1 || c[i] > 1) {
        fail(env, "codes[" + std::to_string(i) + "] is not in {-1, 0, 1}");
        return env.Undefined();
      }
  }
  Napi::ArrayBuffer ab = aligned_buffer(env, static_cast<size_t>(t16_bytes(rows, cols)), false);
  if (env.IsExceptionPending()) return env.Undefined();
  uint8_t* dst = static_cast<uint8_t*>(ab.Data());
  switch (format) {
    case 0: repack_codes(reinterpret_cast<const int8_t*>(src.data), rows, cols, dst); break;
    case 1: repack_i2s(src.data, rows, cols, dst); break;
    case 2: repack_tq2_0(src.data, rows, cols, dst); break;
    default: repack_tq1_0(src.data, rows, cols, dst); break;
  }
  return ab;
}

// unpackTernaryRow(packed, rows, cols, row, out i8): the int8 weights of one row of a T16 matrix (tests).
Napi::Value UnpackTernaryRow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes packed, out;
  if (!get_bytes(info, 0, packed, "packed") || !get_bytes(info, 4, out, "out")) return env.Undefined();
  const int64_t rows = int_arg(info, 1), cols = int_arg(info, 2), row = int_arg(info, 3);
  if (cols <= 0 || row < 0 || row >= rows || !need(info, packed, static_cast<double>(t16_bytes(rows, cols)), "packed") ||
      !need(info, out, 1.0 * cols, "out"))
    return env.Undefined();
  unpack_row(packed.data, cols, row, reinterpret_cast<int8_t*>(out.data));
  return env.Undefined();
}

// allocAligned(bytes) → zeroed 64-byte aligned ArrayBuffer
Napi::Value AllocAligned(const Napi::CallbackInfo& info) {
  const double bytes = num_arg(info, 0);
  if (!(bytes >= 0) || bytes > 1e12) {
    fail(info.Env(), "alloc: bad size");
    return info.Env().Undefined();
  }
  return aligned_buffer(info.Env(), static_cast<size_t>(bytes), true);
}

// quantizeQ8(src, isF16, rows, cols) → [Int8 ArrayBuffer, Float32 scales ArrayBuffer]: per row, scale =
// max|w| / 127 and q = roundHalfEven(w / scale) (w read from f16 or f32). Done natively: the 2B4T matrix has
// 328 M elements.
Napi::Value QuantizeQ8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes src;
  if (!get_bytes(info, 0, src, "src")) return env.Undefined();
  const bool f16 = info[1].As<Napi::Boolean>().Value();
  const int64_t rows = int_arg(info, 2), cols = int_arg(info, 3);
  if (rows <= 0 || cols <= 0 || !need(info, src, (f16 ? 2.0 : 4.0) * rows * cols, "src")) return env.Undefined();
  Napi::ArrayBuffer q = aligned_buffer(env, static_cast<size_t>(rows * cols), false);
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::ArrayBuffer sc = aligned_buffer(env, static_cast<size_t>(rows * 4), false);
  if (env.IsExceptionPending()) return env.Undefined();
  int8_t* qd = static_cast<int8_t*>(q.Data());
  float* sd = static_cast<float*>(sc.Data());
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; r++) {
    float amax = 0.f;
    for (int64_t c = 0; c < cols; c++) {
      row[c] = f16 ? f16_to_f32(reinterpret_cast<const uint16_t*>(src.data)[r * cols + c])
                   : reinterpret_cast<const float*>(src.data)[r * cols + c];
      amax = std::max(amax, std::fabs(row[c]));
    }
    const float scale = amax / 127.f;
    const float inv = scale > 0.f ? 1.f / scale : 0.f;
    for (int64_t c = 0; c < cols; c++) {
      const float v = std::nearbyint(row[c] * inv);
      qd[r * cols + c] = static_cast<int8_t>(std::clamp(v, -127.f, 127.f));
    }
    sd[r] = scale;
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, q);
  result.Set(1u, sc);
  return result;
}

Napi::Value HostInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Features f = detect();
  Napi::Object o = Napi::Object::New(env);
  o.Set("best", best_variant(f));
  o.Set("avx2", f.avx2 && f.fma && f.f16c);
  o.Set("avx512vnni", f.avx512);
  o.Set("neonDot", f.neon_dot);
  Napi::Array built = Napi::Array::New(env);
  uint32_t i = 0;
  built.Set(i++, "scalar");
#if defined(__x86_64__)
  built.Set(i++, "avx2");
  built.Set(i++, "avx512");
#endif
#if defined(__aarch64__)
  built.Set(i++, "neon");
  built.Set(i++, "dotprod");
  built.Set(i++, "i8mm");
#endif
  o.Set("built", built);
  o.Set("tileBytes", kTileBytes);
  o.Set("tileRows", kTileRows);
  o.Set("tileCols", kTileCols);
  return o;
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceValue("NativeCpuBackend", Backend::Define(env), napi_enumerable),
                             InstanceMethod("repackTernary", &Addon::Repack, napi_enumerable),
                             InstanceMethod("unpackTernaryRow", &Addon::Unpack, napi_enumerable),
                             InstanceMethod("allocAligned", &Addon::Alloc, napi_enumerable),
                             InstanceMethod("quantizeQ8", &Addon::Q8, napi_enumerable),
                             InstanceMethod("hostInfo", &Addon::Host, napi_enumerable),
                         });
  }

 private:
  Napi::Value Repack(const Napi::CallbackInfo& info) { return RepackTernary(info); }
  Napi::Value Unpack(const Napi::CallbackInfo& info) { return UnpackTernaryRow(info); }
  Napi::Value Alloc(const Napi::CallbackInfo& info) { return AllocAligned(info); }
  Napi::Value Q8(const Napi::CallbackInfo& info) { return QuantizeQ8(info); }
  Napi::Value Host(const Napi::CallbackInfo& info) { return HostInfo(info); }
};

}  // namespace
}  // namespace trine

using TrineCpuAddon = trine::Addon;
NODE_API_ADDON(TrineCpuAddon)
