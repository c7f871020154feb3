// lmHead: the selected rows of x (rounded to f16 for f16 / q8 matrices, as llama.cpp does), then the logits over
// chunks of whole 24-row blocks of the matrix.
#include <cmath>

#include "glue.h"

namespace trine {
namespace glue {
namespace {

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

}  // namespace

Napi::Value Backend::LmHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LmHeadArgs a;
  if (!alive(env) || !parse(info, a)) return env.Undefined();
  const int64_t d = a.d, nt = a.nt;
  xsel_.resize(static_cast<size_t>(nt * d));
  for (int64_t t = 0; t < nt; t++) {
    const float* src = a.x + static_cast<int64_t>(a.select[t]) * d;
    float* dst = xsel_.data() + t * d;
    for (int64_t i = 0; i < d; i++) dst[i] = a.format == kF32 ? src[i] : round_f16(src[i]);
  }
  if (nt == 0) return env.Undefined();
  LmJob job;
  job.x16 = nullptr;
  job.kx = (d + 31) / 32 * 32;
  job.xinv = nullptr;
  if (a.format == kQ8) {
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
  job.format = a.format;
  job.w = a.matrix;
  job.scales = a.scales;
  job.k = d;
  job.x = xsel_.data();
  job.nt = static_cast<int>(nt);
  job.out = a.out;
  job.out_stride = a.vocab;
  job.chunks.total = a.vocab;
  // Whole 24-row blocks per chunk (the batched kernel's unit; 4 for the others divides it).
  job.chunks.chunk = chunk_rows(a.vocab, pool_->size(), 72, 24);
  pool_->run(lm_job, &job);
  return env.Undefined();
}

}  // namespace glue
}  // namespace trine
