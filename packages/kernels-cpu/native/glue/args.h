// The one place the addon checks what JS hands it (args.cc): for every call, each argument's type, every integer's
// range and every buffer's byte length against what the op will touch are checked here, and the call's arguments
// come out as a plain struct of typed pointers and sizes. The per-op glue (glue/<op>.cc) only unpacks that struct
// and calls the kernels, so a bad call throws a TypeError before any memory is touched.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "../ops.h"

namespace trine {
namespace glue {

// Codes shared with the JS side (src/context.ts SCHEME / FORMAT, src/backend.ts TERNARY_FORMAT).
enum Scheme { kPerToken = 0, kPerBlock256 = 1 };
enum Granularity { kTensor = 0, kBlock256 = 1 };
enum MatFormat { kF32 = 0, kF16 = 1, kQ8 = 2 };
enum TernaryFormat { kCodes = 0, kI2S = 1, kTq2_0 = 2, kTq1_0 = 3 };
enum Activation { kRelu2 = 0, kSilu = 1 };

// new NativeCpuBackend(variant, threads)
struct BackendArgs {
  std::string variant;
  int64_t threads;
};

// quantize(scheme, x f32, rows, k, q i8, scales f32): q / scales rows have strides k and groups.
struct QuantizeArgs {
  int scheme;
  const float* x;
  int64_t rows, k, groups;
  int8_t* q;
  float* scales;
};

// ternaryMatmul(out, wantAcc, scheme, q, qscales, k, packed, n, wscales, granularity, rows)
struct TernaryMatmulArgs {
  bool want_acc;
  int scheme, gran, groups;
  int64_t k, n, rows;
  void* out;  // f32 [rows, n], or i32 [rows, n, groups] when want_acc
  const int8_t* q;
  const float* qscales;
  const uint8_t* packed;  // T16
  const float* wscales;
};

// lmHead(out, x, d, select, format, matrix, scales, vocab): every selected row of x exists.
struct LmHeadArgs {
  float* out;
  const float* x;
  int64_t d, nt, vocab;
  const int32_t* select;  // nt rows of x
  int format;
  const void* matrix;
  const float* scales;
};

// embedding(out, ids, format, matrix, scales, vocab, d): every id is a row of the matrix.
struct EmbeddingArgs {
  float* out;
  const int32_t* ids;
  int64_t n, vocab, d;
  int format;
  const void* matrix;
  const float* scales;
};

// rmsNorm(out, x, weight, eps, rows, d)
struct RmsNormArgs {
  float* out;
  const float* x;
  const float* weight;
  float eps;
  int64_t rows, d;
};

// add(out, a, b, count)
struct AddArgs {
  float* out;
  const float* a;
  const float* b;
  int64_t count;
};

// rope(x, heads, headDim, ropeDim, theta, positions, n)
struct RopeArgs {
  float* x;
  int64_t heads, head_dim, rope_dim, n;
  double theta;
  const int32_t* positions;
};

// gated(out, gate, up, act, count)
struct GatedArgs {
  float* out;
  const float* gate;
  const float* up;
  int act;
  int64_t count;
};

// argmax(out i32, logits, rows, vocab)
struct ArgmaxArgs {
  int32_t* out;
  const float* logits;
  int64_t rows, vocab;
};

// kvStore(cache, spec, layer, k, v, positions, slots, n): every (position, slot) is inside the cache.
struct KvStoreArgs {
  void* cache;
  KvLayout kv;
  int64_t layer, n;
  const float* k;
  const float* v;
  const int32_t* positions;
  const int32_t* slots;
};

// attention(out, q, cache, spec, layer, positions, slots, n, heads, scale, roundProbs)
struct AttentionArgs {
  float* out;
  const float* q;
  const void* cache;
  KvLayout kv;
  int64_t layer, n, heads;
  const int32_t* positions;
  const int32_t* slots;
  float scale;
  bool round_probs;
};

// readBandwidth(megabytes, reps)
struct ReadBandwidthArgs {
  int64_t megabytes, reps;
};

// repackTernary(format, data, rows, cols)
struct RepackArgs {
  int format;
  const uint8_t* data;
  int64_t rows, cols;
};

// unpackTernaryRow(packed, rows, cols, row, out i8)
struct UnpackRowArgs {
  const uint8_t* packed;
  int64_t rows, cols, row;
  int8_t* out;
};

// allocAligned(bytes)
struct AllocArgs {
  size_t bytes;
};

// quantizeQ8(src, isF16, rows, cols)
struct QuantizeQ8Args {
  const void* src;
  bool f16;
  int64_t rows, cols;
};

// Each reads and checks one call's arguments; false (with a JS exception pending) when they are unusable.
// setGemv(n, k, index): the batch-1 kernel for matrices of n rows × k columns (index < the path's candidates).
struct SetGemvArgs {
  int64_t n, k, index;
};

bool parse(const Napi::CallbackInfo& info, BackendArgs& a);
bool parse(const Napi::CallbackInfo& info, SetGemvArgs& a);
bool parse(const Napi::CallbackInfo& info, QuantizeArgs& a);
bool parse(const Napi::CallbackInfo& info, TernaryMatmulArgs& a);
bool parse(const Napi::CallbackInfo& info, LmHeadArgs& a);
bool parse(const Napi::CallbackInfo& info, EmbeddingArgs& a);
bool parse(const Napi::CallbackInfo& info, RmsNormArgs& a);
bool parse(const Napi::CallbackInfo& info, AddArgs& a);
bool parse(const Napi::CallbackInfo& info, RopeArgs& a);
bool parse(const Napi::CallbackInfo& info, GatedArgs& a);
bool parse(const Napi::CallbackInfo& info, ArgmaxArgs& a);
bool parse(const Napi::CallbackInfo& info, KvStoreArgs& a);
bool parse(const Napi::CallbackInfo& info, AttentionArgs& a);
bool parse(const Napi::CallbackInfo& info, ReadBandwidthArgs& a);
bool parse(const Napi::CallbackInfo& info, RepackArgs& a);
bool parse(const Napi::CallbackInfo& info, UnpackRowArgs& a);
bool parse(const Napi::CallbackInfo& info, AllocArgs& a);
bool parse(const Napi::CallbackInfo& info, QuantizeQ8Args& a);

}  // namespace glue
}  // namespace trine
