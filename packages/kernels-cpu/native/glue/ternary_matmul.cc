// ternaryMatmul: the integer kernel over chunks of 16-row groups, then (unless the caller wants the raw
// accumulators) the scheme's float epilogue on the same chunk.
#include <cstring>
#include <string>

#include "glue.h"

namespace trine {
namespace glue {
namespace {

struct TernaryJob {
  const KernelTable* kt;
  GemvFn gemv;  // batch 1 (nt = 1): the kernel measured fastest for this shape
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
    if (j.gemv != nullptr)
      j.gemv(j.w, j.q, j.qsum, n0, n1, j.groups, j.acc);
    else
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

}  // namespace

Napi::Value Backend::TernaryMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TernaryMatmulArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  if (a.rows == 0) return env.Undefined();
  const TernaryMat w{a.packed, a.n, a.k, padded_cols(a.k), kTileRows * padded_cols(a.k) / 4};

  // Activations in the kernels' form: rows of kp int8 (zero padded) and their per-group sums.
  const int8_t* qptr = a.q;
  if (w.kp != a.k) {
    qpad_.assign(static_cast<size_t>(a.rows * w.kp), 0);
    for (int64_t r = 0; r < a.rows; r++) std::memcpy(qpad_.data() + r * w.kp, a.q + r * a.k, static_cast<size_t>(a.k));
    qptr = qpad_.data();
  }
  qsum_.resize(static_cast<size_t>(a.rows * a.groups));
  const int64_t per_group = w.kp / a.groups;
  for (int64_t r = 0; r < a.rows; r++)
    for (int g = 0; g < a.groups; g++) {
      int32_t s = 0;
      const int8_t* p = qptr + r * w.kp + g * per_group;
      for (int64_t i = 0; i < per_group; i++) s += p[i];
      qsum_[r * a.groups + g] = s;
    }

  TernaryJob job;
  job.kt = kt_;
  job.gemv = nullptr;
  if (a.rows == 1 && kt_->gemv_count > 0) {
    int index = 0;
    for (const GemvPick& p : gemv_pick_)
      if (p.n == a.n && p.k == a.k) index = p.index;
    job.gemv = kt_->gemv[index].fn;
  }
  job.w = w;
  job.q = qptr;
  job.qsum = qsum_.data();
  job.nt = static_cast<int>(a.rows);
  job.groups = a.groups;
  job.gran = a.gran;
  job.scheme = a.scheme;
  job.ascale = a.qscales;
  job.wscale = a.wscales;
  if (a.want_acc) {
    job.acc = static_cast<int32_t*>(a.out);
    job.out = nullptr;
  } else {
    acc_.resize(static_cast<size_t>(a.rows * a.n * a.groups));
    job.acc = acc_.data();
    job.out = static_cast<float*>(a.out);
  }
  job.acc_stride = a.n * a.groups;
  job.chunks.total = a.n;
  job.chunks.chunk = chunk_rows(a.n, pool_->size(), a.rows > 1 ? 16 : 32, kTileRows);
  pool_->run(ternary_job, &job);
  return env.Undefined();
}

// gemvKernels() → the names of this path's batch-1 candidates (empty: the path has one kernel).
Napi::Value Backend::GemvKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!alive(env)) return env.Undefined();
  Napi::Array names = Napi::Array::New(env, static_cast<size_t>(kt_->gemv_count));
  for (int i = 0; i < kt_->gemv_count; i++) names.Set(static_cast<uint32_t>(i), kt_->gemv[i].name);
  return names;
}

Napi::Value Backend::SetGemv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SetGemvArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  if (a.index >= kt_->gemv_count) {
    Napi::RangeError::New(env, "setGemv: index " + std::to_string(a.index) + " is not one of the " +
                                   std::to_string(kt_->gemv_count) + " batch-1 kernels of " + kt_->name)
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (GemvPick& p : gemv_pick_)
    if (p.n == a.n && p.k == a.k) {
      p.index = static_cast<int>(a.index);
      return env.Undefined();
    }
  // One entry per distinct shape a model has (a handful); refuse an unbounded list.
  if (gemv_pick_.size() >= 256) {
    Napi::RangeError::New(env, "setGemv: more than 256 shapes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  gemv_pick_.push_back({a.n, a.k, static_cast<int>(a.index)});
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
