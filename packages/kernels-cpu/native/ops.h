// Float ops shared by every code path (generic/float_ops.cc): small next to the matmuls, written to match the
// reference math (f32 values, f64 only where the reference sums in f64).
#pragma once
#include <cstdint>

#include "common.h"

namespace trine {

void rms_norm_rows(float* out, const float* x, const float* w, float eps, int64_t rows, int64_t d);
void add_f32(float* out, const float* a, const float* b, int64_t count);
// NEOX rotate-half RoPE over `heads` heads of `head_dim` for one token at position pos (first rope_dim dims).
void rope_token(float* x, int64_t heads, int64_t head_dim, int64_t rope_dim, double theta, int32_t pos);
// rope_token in two halves, so a position's angles can be reused: cs[2i] = cos, cs[2i + 1] = sin of angle i
// (rope_dim / 2 pairs), then the rotation with them.
void rope_angles(float* cs, int64_t rope_dim, double theta, int32_t pos);
void rope_apply(float* x, int64_t heads, int64_t head_dim, int64_t rope_dim, const float* cs);
void gated_act(float* out, const float* gate, const float* up, int act /*0 relu2, 1 silu*/, int64_t count);
int32_t argmax_row(const float* x, int64_t n);

struct KvLayout {
  int64_t layers, slots, context, kv_heads, head_dim;
  bool f16;
  // Element offset of (layer, slot, head, pos, 0): [layer][slot][head][pos][dim], so one head's keys are contiguous.
  int64_t offset(int64_t layer, int64_t slot, int64_t head, int64_t pos) const {
    return (((layer * slots + slot) * kv_heads + head) * context + pos) * head_dim;
  }
  int64_t elements() const { return layers * slots * kv_heads * context * head_dim; }
  // K and V halves of the cache buffer are each elements() long: K first, then V.
};

void kv_store_token(void* cache, const KvLayout& kv, int64_t layer, int64_t slot, int64_t pos, const float* k,
                    const float* v, const KernelTable& kt);
// One query head of one token over positions 0..pos of its slot; scratch holds ≥ pos + 1 floats.
void attention_head(float* out, const float* q, const void* cache, const KvLayout& kv, int64_t layer, int64_t slot,
                    int64_t pos, int64_t kv_head, float scale, bool round_probs, float* scratch,
                    const KernelTable& kt);

}  // namespace trine
