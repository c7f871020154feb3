// Argument checks for every call into the addon (args.h). Sizes are computed in double, so a huge or negative
// count cannot wrap around into a small byte length.
#include "args.h"

#include "../common.h"

namespace trine {
namespace glue {
namespace {

struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
};

// Reads one call's arguments. The first failure throws a TypeError (a pending JS exception) and every later read
// or check is skipped, so a parse function reads in order and answers ok() at the end.
class Reader {
 public:
  explicit Reader(const Napi::CallbackInfo& info) : info_(info) {}

  bool ok() const { return ok_; }

  bool fail(const std::string& msg) {
    if (ok_) Napi::TypeError::New(info_.Env(), msg).ThrowAsJavaScriptException();
    ok_ = false;
    return false;
  }

  bool check(bool cond, const char* msg) {
    if (!ok_) return false;
    return cond || fail(msg);
  }

  // A check whose message is composed: built only when it fails (these run on every kernel call).
  template <typename Msg>
  bool check_lazy(bool cond, Msg&& msg) {
    if (!ok_) return false;
    return cond || fail(msg());
  }

  // A typed array (its viewed bytes) or an ArrayBuffer.
  Bytes bytes(size_t i, const char* name) {
    Bytes b;
    if (!ok_) return b;
    Napi::Value v = info_[i];
    if (v.IsTypedArray()) {
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      b.data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      b.len = ta.ByteLength();
    } else if (v.IsArrayBuffer()) {
      Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
      b.data = static_cast<uint8_t*>(ab.Data());
      b.len = ab.ByteLength();
    } else {
      fail(std::string(name) + ": expected a typed array or ArrayBuffer");
    }
    return b;
  }

  // b holds at least `bytes` bytes.
  bool need(const Bytes& b, double bytes, const char* name) {
    return check_lazy(bytes >= 0 && static_cast<double>(b.len) >= bytes, [&] {
      return std::string(name) + ": buffer holds " + std::to_string(b.len) + " bytes, needs " +
             std::to_string(static_cast<int64_t>(bytes));
    });
  }

  // A number, truncated toward zero.
  int64_t integer(size_t i, const char* name) { return number_value(info_[i], name).Int64Value(); }
  double number(size_t i, const char* name) { return number_value(info_[i], name).DoubleValue(); }

  bool boolean(size_t i, const char* name) {
    Napi::Value v = info_[i];
    if (!check_lazy(v.IsBoolean(), [&] { return std::string(name) + ": expected a boolean"; })) return false;
    return v.As<Napi::Boolean>().Value();
  }

  std::string string(size_t i, const char* name) {
    Napi::Value v = info_[i];
    if (!check_lazy(v.IsString(), [&] { return std::string(name) + ": expected a string"; })) return "";
    return v.As<Napi::String>().Utf8Value();
  }

  // A KvCacheSpec object: positive sizes, headDim ≤ 512 (the attention scratch bound), dtype f16 or f32.
  KvLayout kv_layout(size_t i, const char* op) {
    KvLayout kv{};
    const auto bad = [&] { return std::string(op) + ": bad cache spec"; };
    Napi::Value v = info_[i];
    if (!check_lazy(v.IsObject(), bad)) return kv;
    Napi::Object o = v.As<Napi::Object>();
    kv.layers = integer_field(o, "layers", op);
    kv.slots = integer_field(o, "slots", op);
    kv.context = integer_field(o, "context", op);
    kv.kv_heads = integer_field(o, "kvHeads", op);
    kv.head_dim = integer_field(o, "headDim", op);
    Napi::Value dtype = o.Get("dtype");
    if (!check_lazy(dtype.IsString(), bad)) return kv;
    kv.f16 = dtype.As<Napi::String>().Utf8Value() == "f16";
    check_lazy(kv.layers > 0 && kv.slots > 0 && kv.context > 0 && kv.kv_heads > 0 && kv.head_dim > 0 && kv.head_dim <= 512,
               bad);
    return kv;
  }

 private:
  Napi::Number number_value(Napi::Value v, const char* name) {
    if (!check_lazy(v.IsNumber(), [&] { return std::string(name) + ": expected a number"; })) return Napi::Number::New(info_.Env(), 0);
    return v.As<Napi::Number>();
  }

  int64_t integer_field(Napi::Object o, const char* key, const char* op) {
    if (!ok_) return 0;
    Napi::Value v = o.Get(key);
    if (!check_lazy(v.IsNumber(), [&] { return std::string(op) + ": bad cache spec"; })) return 0;
    return v.As<Napi::Number>().Int64Value();
  }

  const Napi::CallbackInfo& info_;
  bool ok_ = true;
};

template <typename T>
T* as(const Bytes& b) {
  return reinterpret_cast<T*>(b.data);
}

// Bytes of one matrix element in a MatFormat.
double element_bytes(int format) { return format == kF32 ? 4 : (format == kF16 ? 2 : 1); }

bool known_format(int format) { return format == kF32 || format == kF16 || format == kQ8; }

// Every (position, slot) pair lies inside the cache.
bool in_cache(const int32_t* p, const int32_t* s, int64_t n, const KvLayout& kv) {
  for (int64_t i = 0; i < n; i++)
    if (p[i] < 0 || p[i] >= kv.context || s[i] < 0 || s[i] >= kv.slots) return false;
  return true;
}

// The cache buffer holds the spec's K and V halves, and each of the n tokens' (position, slot) lies inside it.
void cache_tokens(Reader& r, const Bytes& cache, const KvLayout& kv, const Bytes& pos, const Bytes& sl, int64_t n,
                  const char* out_of_range) {
  r.need(cache, (kv.f16 ? 4.0 : 8.0) * kv.elements(), "cache");
  r.need(pos, 4.0 * n, "positions");
  r.need(sl, 4.0 * n, "slots");
  r.check(!r.ok() || in_cache(as<const int32_t>(pos), as<const int32_t>(sl), n, kv), out_of_range);
}

}  // namespace

bool parse(const Napi::CallbackInfo& info, BackendArgs& a) {
  Reader r(info);
  a.variant = r.string(0, "variant");
  a.threads = r.integer(1, "threads");
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, QuantizeArgs& a) {
  Reader r(info);
  a.scheme = static_cast<int>(r.integer(0, "scheme"));
  const Bytes x = r.bytes(1, "x"), q = r.bytes(4, "q"), sc = r.bytes(5, "scales");
  a.rows = r.integer(2, "rows");
  a.k = r.integer(3, "k");
  r.check(a.scheme == kPerToken || a.scheme == kPerBlock256, "quantize: unknown scheme");
  r.check(a.rows >= 0 && a.k > 0 && (a.scheme != kPerBlock256 || a.k % 256 == 0), "quantize: bad rows/k");
  a.groups = a.scheme == kPerToken ? 1 : a.k / 256;
  r.need(x, 4.0 * a.rows * a.k, "x");
  r.need(q, 1.0 * a.rows * a.k, "q");
  r.need(sc, 4.0 * a.rows * a.groups, "scales");
  a.x = as<const float>(x);
  a.q = as<int8_t>(q);
  a.scales = as<float>(sc);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, TernaryMatmulArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), q = r.bytes(3, "q"), qs = r.bytes(4, "qscales"), packed = r.bytes(6, "packed"),
              ws = r.bytes(8, "wscales");
  a.want_acc = r.boolean(1, "wantAcc");
  a.scheme = static_cast<int>(r.integer(2, "scheme"));
  a.k = r.integer(5, "k");
  a.n = r.integer(7, "n");
  a.gran = static_cast<int>(r.integer(9, "granularity"));
  a.rows = r.integer(10, "rows");
  r.check(a.scheme == kPerToken || a.scheme == kPerBlock256, "ternaryMatmul: unknown scheme");
  r.check(a.gran == kTensor || a.gran == kBlock256, "ternaryMatmul: unknown granularity");
  r.check(a.k > 0 && a.n > 0 && a.rows >= 0 && a.rows <= (1 << 20), "ternaryMatmul: bad k/n/rows");
  r.check(a.scheme != kPerBlock256 || a.k % 256 == 0, "ternaryMatmul: per_block256 needs k % 256 == 0");
  a.groups = a.scheme == kPerToken ? 1 : static_cast<int>(a.k / 256);
  r.need(packed, static_cast<double>(t16_bytes(a.n, a.k)), "packed");
  r.need(q, 1.0 * a.rows * a.k, "q");
  r.need(qs, 4.0 * a.rows * a.groups, "qscales");
  r.need(ws, a.gran == kBlock256 ? 4.0 * a.n * (a.k / 256) : 4.0, "wscales");
  r.need(out, 4.0 * a.rows * a.n * (a.want_acc ? a.groups : 1), "out");
  a.out = out.data;
  a.q = as<const int8_t>(q);
  a.qscales = as<const float>(qs);
  a.packed = packed.data;
  a.wscales = as<const float>(ws);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, LmHeadArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), x = r.bytes(1, "x"), sel = r.bytes(3, "select"), mat = r.bytes(5, "matrix"),
              sc = r.bytes(6, "scales");
  a.d = r.integer(2, "d");
  a.format = static_cast<int>(r.integer(4, "format"));
  a.vocab = r.integer(7, "vocab");
  a.nt = static_cast<int64_t>(sel.len / 4);
  r.check(known_format(a.format), "lmHead: unknown format");
  r.check(a.d > 0 && a.vocab > 0, "lmHead: bad d/vocab");
  r.need(mat, element_bytes(a.format) * a.vocab * a.d, "matrix");
  r.need(out, 4.0 * a.nt * a.vocab, "out");
  if (a.format == kQ8) r.need(sc, 4.0 * a.vocab, "scales");
  a.select = as<const int32_t>(sel);
  for (int64_t t = 0; t < a.nt && r.ok(); t++) {
    r.check(a.select[t] >= 0, "select: negative row");
    r.need(x, 4.0 * (static_cast<double>(a.select[t]) + 1) * a.d, "x");
  }
  a.out = as<float>(out);
  a.x = as<const float>(x);
  a.matrix = mat.data;
  a.scales = as<const float>(sc);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, EmbeddingArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), ids = r.bytes(1, "ids"), mat = r.bytes(3, "matrix"), sc = r.bytes(4, "scales");
  a.format = static_cast<int>(r.integer(2, "format"));
  a.vocab = r.integer(5, "vocab");
  a.d = r.integer(6, "d");
  a.n = static_cast<int64_t>(ids.len / 4);
  r.check(known_format(a.format), "embedding: unknown format");
  r.need(mat, element_bytes(a.format) * a.vocab * a.d, "matrix");
  r.need(out, 4.0 * a.n * a.d, "out");
  if (a.format == kQ8) r.need(sc, 4.0 * a.vocab, "scales");
  a.ids = as<const int32_t>(ids);
  for (int64_t i = 0; i < a.n && r.ok(); i++)
    r.check_lazy(a.ids[i] >= 0 && a.ids[i] < a.vocab, [&] { return "ids[" + std::to_string(i) + "]: token id out of range"; });
  a.out = as<float>(out);
  a.matrix = mat.data;
  a.scales = as<const float>(sc);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, RmsNormArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), x = r.bytes(1, "x"), w = r.bytes(2, "weight");
  a.eps = static_cast<float>(r.number(3, "eps"));
  a.rows = r.integer(4, "rows");
  a.d = r.integer(5, "d");
  r.need(out, 4.0 * a.rows * a.d, "out");
  r.need(x, 4.0 * a.rows * a.d, "x");
  r.need(w, 4.0 * a.d, "weight");
  a.out = as<float>(out);
  a.x = as<const float>(x);
  a.weight = as<const float>(w);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, AddArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), x = r.bytes(1, "a"), y = r.bytes(2, "b");
  a.count = r.integer(3, "count");
  r.need(out, 4.0 * a.count, "out");
  r.need(x, 4.0 * a.count, "a");
  r.need(y, 4.0 * a.count, "b");
  a.out = as<float>(out);
  a.a = as<const float>(x);
  a.b = as<const float>(y);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, RopeArgs& a) {
  Reader r(info);
  const Bytes x = r.bytes(0, "x"), pos = r.bytes(5, "positions");
  a.heads = r.integer(1, "heads");
  a.head_dim = r.integer(2, "headDim");
  a.rope_dim = r.integer(3, "ropeDim");
  a.theta = r.number(4, "theta");
  a.n = r.integer(6, "n");
  r.check(a.rope_dim >= 0 && a.rope_dim <= a.head_dim && a.rope_dim % 2 == 0, "rope: ropeDim must be even and ≤ headDim");
  r.need(x, 4.0 * a.n * a.heads * a.head_dim, "x");
  r.need(pos, 4.0 * a.n, "positions");
  a.x = as<float>(x);
  a.positions = as<const int32_t>(pos);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, GatedArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), g = r.bytes(1, "gate"), u = r.bytes(2, "up");
  a.act = static_cast<int>(r.integer(3, "act"));
  a.count = r.integer(4, "count");
  r.check(a.act == kRelu2 || a.act == kSilu, "gated: unknown activation");
  r.need(out, 4.0 * a.count, "out");
  r.need(g, 4.0 * a.count, "gate");
  r.need(u, 4.0 * a.count, "up");
  a.out = as<float>(out);
  a.gate = as<const float>(g);
  a.up = as<const float>(u);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, ArgmaxArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), x = r.bytes(1, "logits");
  a.rows = r.integer(2, "rows");
  a.vocab = r.integer(3, "vocab");
  r.check(a.vocab > 0, "argmax: vocab must be positive");
  r.need(out, 4.0 * a.rows, "out");
  r.need(x, 4.0 * a.rows * a.vocab, "logits");
  a.out = as<int32_t>(out);
  a.logits = as<const float>(x);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, KvStoreArgs& a) {
  Reader r(info);
  const Bytes cache = r.bytes(0, "cache");
  a.kv = r.kv_layout(1, "kvStore");
  const Bytes k = r.bytes(3, "k"), v = r.bytes(4, "v"), pos = r.bytes(5, "positions"), sl = r.bytes(6, "slots");
  a.layer = r.integer(2, "layer");
  a.n = r.integer(7, "n");
  const int64_t row = a.kv.kv_heads * a.kv.head_dim;
  r.need(k, 4.0 * a.n * row, "k");
  r.need(v, 4.0 * a.n * row, "v");
  r.check(a.layer >= 0 && a.layer < a.kv.layers, "kvStore: layer out of range");
  cache_tokens(r, cache, a.kv, pos, sl, a.n, "kvStore: position or slot out of range");
  a.positions = as<const int32_t>(pos);
  a.slots = as<const int32_t>(sl);
  a.cache = cache.data;
  a.k = as<const float>(k);
  a.v = as<const float>(v);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, AttentionArgs& a) {
  Reader r(info);
  const Bytes out = r.bytes(0, "out"), q = r.bytes(1, "q"), cache = r.bytes(2, "cache");
  a.kv = r.kv_layout(3, "attention");
  const Bytes pos = r.bytes(5, "positions"), sl = r.bytes(6, "slots");
  a.layer = r.integer(4, "layer");
  a.n = r.integer(7, "n");
  a.heads = r.integer(8, "heads");
  a.scale = static_cast<float>(r.number(9, "scale"));
  a.round_probs = r.boolean(10, "roundProbs");
  r.check(a.heads > 0 && a.kv.kv_heads > 0 && a.heads % a.kv.kv_heads == 0 && a.layer >= 0 && a.layer < a.kv.layers,
          "attention: heads must be a multiple of kvHeads and layer in range");
  r.need(q, 4.0 * a.n * a.heads * a.kv.head_dim, "q");
  r.need(out, 4.0 * a.n * a.heads * a.kv.head_dim, "out");
  cache_tokens(r, cache, a.kv, pos, sl, a.n, "attention: position or slot out of range");
  a.positions = as<const int32_t>(pos);
  a.slots = as<const int32_t>(sl);
  a.out = as<float>(out);
  a.q = as<const float>(q);
  a.cache = cache.data;
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, ReadBandwidthArgs& a) {
  Reader r(info);
  a.megabytes = r.integer(0, "megabytes");
  a.reps = r.integer(1, "reps");
  r.check(a.megabytes >= 1 && a.megabytes <= 65536 && a.reps >= 1 && a.reps <= 100,
          "readBandwidth: megabytes in [1, 65536], reps in [1, 100]");
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, SetGemvArgs& a) {
  Reader r(info);
  a.n = r.integer(0, "n");
  a.k = r.integer(1, "k");
  a.index = r.integer(2, "index");
  r.check(a.n >= 1 && a.k >= 1 && a.index >= 0, "setGemv: n and k ≥ 1, index ≥ 0");
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, RepackArgs& a) {
  Reader r(info);
  a.format = static_cast<int>(r.integer(0, "format"));
  const Bytes src = r.bytes(1, "data");
  a.rows = r.integer(2, "rows");
  a.cols = r.integer(3, "cols");
  r.check(a.rows > 0 && a.cols > 0 && a.rows <= (1LL << 24) && a.cols <= (1LL << 24), "repack: bad shape");
  double needed = 0;
  switch (a.format) {
    case kCodes: needed = 1.0 * a.rows * a.cols; break;
    case kI2S: r.check(a.cols % 128 == 0, "i2_s needs cols % 128 == 0"); needed = 1.0 * a.rows * a.cols / 4; break;
    case kTq2_0: r.check(a.cols % 256 == 0, "tq2_0 needs cols % 256 == 0"); needed = 66.0 * a.rows * (a.cols / 256); break;
    case kTq1_0: r.check(a.cols % 256 == 0, "tq1_0 needs cols % 256 == 0"); needed = 54.0 * a.rows * (a.cols / 256); break;
    default: r.fail("repack: unknown format");
  }
  r.need(src, needed, "data");
  a.data = src.data;
  if (r.ok() && a.format == kCodes) {
    const int8_t* c = as<const int8_t>(src);
    for (int64_t i = 0; i < a.rows * a.cols; i++)
      if (c[i] < -1 || c[i] > 1) return r.fail("codes[" + std::to_string(i) + "] is not in {-1, 0, 1}");
  }
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, UnpackRowArgs& a) {
  Reader r(info);
  const Bytes packed = r.bytes(0, "packed"), out = r.bytes(4, "out");
  a.rows = r.integer(1, "rows");
  a.cols = r.integer(2, "cols");
  a.row = r.integer(3, "row");
  r.check(a.cols > 0 && a.row >= 0 && a.row < a.rows, "unpackTernaryRow: row out of range");
  r.need(packed, static_cast<double>(t16_bytes(a.rows, a.cols)), "packed");
  r.need(out, 1.0 * a.cols, "out");
  a.packed = packed.data;
  a.out = as<int8_t>(out);
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, AllocArgs& a) {
  Reader r(info);
  const double bytes = r.number(0, "bytes");
  r.check(bytes >= 0 && bytes <= 1e12, "alloc: bad size");
  a.bytes = r.ok() ? static_cast<size_t>(bytes) : 0;
  return r.ok();
}

bool parse(const Napi::CallbackInfo& info, QuantizeQ8Args& a) {
  Reader r(info);
  const Bytes src = r.bytes(0, "src");
  a.f16 = r.boolean(1, "isF16");
  a.rows = r.integer(2, "rows");
  a.cols = r.integer(3, "cols");
  r.check(a.rows > 0 && a.cols > 0, "quantizeQ8: bad shape");
  r.need(src, (a.f16 ? 2.0 : 4.0) * a.rows * a.cols, "src");
  a.src = src.data;
  return r.ok();
}

}  // namespace glue
}  // namespace trine
