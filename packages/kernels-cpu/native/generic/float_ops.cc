#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "../common.h"
#include "../ops.h"

namespace trine {

// ggml's rms_norm: squares in f32 summed in f64, scale = f32(1 / sqrt(mean + eps)), then ·weight (two f32 muls).
void rms_norm_rows(float* out, const float* x, const float* w, float eps, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * d;
    float* o = out + r * d;
    // Four partial sums: the order is the backend's to choose, and one dependent f64 add per element is slow.
    double s4[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= d; i += 4)
      for (int j = 0; j < 4; j++) s4[j] += static_cast<double>(xr[i + j] * xr[i + j]);
    for (; i < d; i++) s4[0] += static_cast<double>(xr[i] * xr[i]);
    const double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    const float mean = static_cast<float>(sum / static_cast<double>(d));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (i = 0; i < d; i++) o[i] = (xr[i] * scale) * w[i];
  }
}

void add_f32(float* out, const float* a, const float* b, int64_t count) {
  for (int64_t i = 0; i < count; i++) out[i] = a[i] + b[i];
}

void rope_angles(float* cs, int64_t rope_dim, double theta, int32_t pos) {
  for (int64_t i = 0; i < rope_dim / 2; i++) {
    const double angle = static_cast<double>(pos) * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rope_dim));
    cs[2 * i] = static_cast<float>(std::cos(angle));
    cs[2 * i + 1] = static_cast<float>(std::sin(angle));
  }
}

void rope_apply(float* x, int64_t heads, int64_t head_dim, int64_t rope_dim, const float* cs) {
  const int64_t half = rope_dim / 2;
  for (int64_t h = 0; h < heads; h++) {
    float* p = x + h * head_dim;
    for (int64_t i = 0; i < half; i++) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float a = p[i], b = p[i + half];
      p[i] = a * c - b * s;
      p[i + half] = a * s + b * c;
    }
  }
}

void rope_token(float* x, int64_t heads, int64_t head_dim, int64_t rope_dim, double theta, int32_t pos) {
  std::vector<float> cs(static_cast<size_t>(rope_dim));
  rope_angles(cs.data(), rope_dim, theta, pos);
  rope_apply(x, heads, head_dim, rope_dim, cs.data());
}

void gated_act(float* out, const float* gate, const float* up, int act, int64_t count) {
  if (act == 0) {
    int64_t i = 0;
#if defined(__SSE2__)
    // SSE2 is baseline on x86-64; GCC will not turn the compare-select into maxps without -ffinite-math-only.
    // _mm_max_ps(g, 0) is exactly g > 0 ? g : 0 (NaN gives 0, like the scalar form).
    for (; i + 4 <= count; i += 4) {
      const __m128 r = _mm_max_ps(_mm_loadu_ps(gate + i), _mm_setzero_ps());
      _mm_storeu_ps(out + i, _mm_mul_ps(_mm_mul_ps(r, r), _mm_loadu_ps(up + i)));
    }
#elif defined(__aarch64__)
    // NEON is baseline on AArch64; fmaxnm(g, 0) is g > 0 ? g : 0 too (NaN and -0 give +0).
    for (; i + 4 <= count; i += 4) {
      const float32x4_t r = vmaxnmq_f32(vld1q_f32(gate + i), vdupq_n_f32(0.f));
      vst1q_f32(out + i, vmulq_f32(vmulq_f32(r, r), vld1q_f32(up + i)));
    }
#endif
    for (; i < count; i++) {
      const float r = gate[i] > 0.f ? gate[i] : 0.f;
      out[i] = r * r * up[i];
    }
  } else {
    for (int64_t i = 0; i < count; i++) {
      const float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }
}

int32_t argmax_row(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

void kv_store_token(void* cache, const KvLayout& kv, int64_t layer, int64_t slot, int64_t pos, const float* k,
                    const float* v, const KernelTable& kt) {
  const int64_t total = kv.elements();
  for (int64_t h = 0; h < kv.kv_heads; h++) {
    const int64_t off = kv.offset(layer, slot, h, pos);
    const float* ks = k + h * kv.head_dim;
    const float* vs = v + h * kv.head_dim;
    if (kv.f16) {
      uint16_t* c = static_cast<uint16_t*>(cache);
      kt.to_f16(ks, c + off, kv.head_dim);
      kt.to_f16(vs, c + total + off, kv.head_dim);
    } else {
      float* c = static_cast<float*>(cache);
      for (int64_t i = 0; i < kv.head_dim; i++) {
        c[off + i] = ks[i];
        c[total + off + i] = vs[i];
      }
    }
  }
}

// Scores in f32 (Q rounded to f16 for an f16 cache, as llama.cpp does), softmax with exp in f32 and the sum in
// f64, probabilities normalized before they weight V (rounded to f16 when asked).
namespace {
float exp_softmax(float x) {
  using namespace softmax_exp;
  if (!(x >= kMin)) return 0.f;
  const float t = x * kLog2e + kShift;  // two operations (no FMA: -ffp-contract=off), as in every version
  const float nf = t - kShift;
  const float r = (x - nf * kLn2Hi) - nf * kLn2Lo;
  float y = kP[0];
  for (int i = 1; i < 6; i++) y = y * r + kP[i];
  y = (y * (r * r) + r) + 1.f;
  uint32_t tb;
  std::memcpy(&tb, &t, 4);
  const uint32_t pow2 = (tb - 0x4B400000u + 127u) << 23;  // n + 127 in the exponent field
  float scale;
  std::memcpy(&scale, &pow2, 4);
  return y * scale;
}
}  // namespace

void softmax_scalar(float* s, int64_t n, float scale, bool round) {
  float mx = -INFINITY;
  for (int64_t p = 0; p < n; p++) {
    s[p] *= scale;
    mx = s[p] > mx ? s[p] : mx;
  }
  double part[16] = {};
  for (int64_t p = 0; p < n; p++) {
    s[p] = exp_softmax(s[p] - mx);
    part[p & 15] += static_cast<double>(s[p]);
  }
  double sum = part[0];
  for (int i = 1; i < 16; i++) sum += part[i];
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t p = 0; p < n; p++) {
    s[p] *= inv;
    if (round) s[p] = round_f16(s[p]);
  }
}

void attention_head(float* out, const float* q, const void* cache, const KvLayout& kv, int64_t layer, int64_t slot,
                    int64_t pos, int64_t kv_head, float scale, bool round_probs, float* scratch,
                    const KernelTable& kt) {
  const int64_t dh = kv.head_dim;
  const int64_t base = kv.offset(layer, slot, kv_head, 0);
  const int64_t total = kv.elements();
  const int64_t n = pos + 1;
  float qr[512];  // head_dim ≤ 512 is checked by the caller
  if (kv.f16) {
    uint16_t qh[512];
    kt.to_f16(q, qh, dh);
    for (int64_t i = 0; i < dh; i++) qr[i] = f16_to_f32(qh[i]);
  } else {
    for (int64_t i = 0; i < dh; i++) qr[i] = q[i];
  }
  if (kv.f16) {
    kt.scores_f16(qr, static_cast<const uint16_t*>(cache) + base, dh, n, scratch);
  } else {
    const float* k = static_cast<const float*>(cache) + base;
    for (int64_t p = 0; p < n; p++) {
      float s = 0.f;
      for (int64_t i = 0; i < dh; i++) s += qr[i] * k[p * dh + i];
      scratch[p] = s;
    }
  }
  kt.softmax(scratch, n, scale, round_probs);
  if (kv.f16) {
    kt.wsum_f16(scratch, static_cast<const uint16_t*>(cache) + total + base, dh, n, out);
  } else {
    const float* v = static_cast<const float*>(cache) + total + base;
    for (int64_t i = 0; i < dh; i++) out[i] = 0.f;
    for (int64_t p = 0; p < n; p++)
      for (int64_t i = 0; i < dh; i++) out[i] += scratch[p] * v[p * dh + i];
  }
}

}  // namespace trine
