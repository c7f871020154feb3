// Kernel-table harness (no N-API): every kernel of every ARM table against the scalar table, bit for bit, on the
// conformance kit's shapes (packages/conformance/src/cases: odd N and K, per_token and per_block256, batched
// tokens) and with the row ranges the addon's thread pool hands out. scripts/test-aarch64.sh cross-compiles it and
// runs it under qemu-aarch64 with CPU models that have and lack SDOT and SMMLA.
//
//   harness [--expect neon=1,dotprod=0,i8mm=0]
// TRINE_CPU_VARIANT=<name> tests that variant only (as it forces the addon's). --expect checks what detection
// reports for each variant; a variant the CPU lacks must be refused by arm_table(), never run. Prints one
// 'N passed, N failed' line and exits 1 on any failure.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../common.h"
#include "../ops.h"

namespace trine {
namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& what, const std::string& detail = "") {
  if (ok) {
    passed++;
    return;
  }
  failed++;
  std::printf("FAIL %s%s%s\n", what.c_str(), detail.empty() ? "" : ": ", detail.c_str());
}

// Bitwise comparison; the detail names the first differing element.
template <typename E>
bool same(const std::vector<E>& got, const std::vector<E>& want, std::string& detail) {
  if (got.size() != want.size()) {
    detail = "size";
    return false;
  }
  for (size_t i = 0; i < got.size(); i++)
    if (std::memcmp(&got[i], &want[i], sizeof(E)) != 0) {
      char b[160];
      if constexpr (std::is_floating_point<E>::value)
        std::snprintf(b, sizeof b, "element %zu: got %.9g want %.9g", i, static_cast<double>(got[i]),
                      static_cast<double>(want[i]));
      else
        std::snprintf(b, sizeof b, "element %zu: got %lld want %lld", i, static_cast<long long>(got[i]),
                      static_cast<long long>(want[i]));
      detail = b;
      return false;
    }
  return true;
}

template <typename E>
void check_same(const std::vector<E>& got, const std::vector<E>& want, const std::string& what) {
  std::string detail;
  const bool ok = same(got, want, detail);
  check(ok, what, detail);
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24); }  // [0, 1)
  float normal() { return (uniform() + uniform() + uniform() + uniform() - 2.f) * 1.7f; }
};

struct Variant {
  std::string name;
  const KernelTable* kt;
};

std::string fmt(const char* f, long long a, long long b, long long c, long long d = -1) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}

// The addon's chunking (addon.cc chunk_rows): about 8 chunks per thread, at least min_rows, a multiple of align.
int64_t chunk_rows(int64_t total, int threads, int64_t min_rows, int64_t align) {
  int64_t c = total / (static_cast<int64_t>(threads) * 8);
  c = std::max(min_rows, c);
  return (c + align - 1) / align * align;
}

// Row ranges to split a call into: the whole range, what 1-8 pool threads get, and small aligned chunks.
std::vector<int64_t> splits(int64_t total, int64_t min_rows, int64_t align, std::vector<int64_t> extra) {
  std::vector<int64_t> c = {total};
  for (int th : {2, 4, 8}) c.push_back(chunk_rows(total, th, min_rows, align));
  for (int64_t e : extra) c.push_back(e);
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Ternary accumulators.

struct TernaryCase {
  int64_t k, n;
  int nt;
  bool extremes;
  uint64_t seed;
};

void test_ternary(const TernaryCase& c, const std::vector<Variant>& vs) {
  Rng rng(c.seed);
  const int64_t kp = padded_cols(c.k);
  std::vector<int8_t> codes(static_cast<size_t>(c.n * c.k));
  for (auto& v : codes) v = static_cast<int8_t>(rng.range(-1, 1));
  std::vector<int8_t> q(static_cast<size_t>(c.nt * kp), 0);
  for (int t = 0; t < c.nt; t++)
    for (int64_t i = 0; i < c.k; i++) q[t * kp + i] = static_cast<int8_t>(rng.range(-128, 127));
  if (c.extremes) {  // rows of +1 / -1 / 0 against activations pinned at 127, -128, alternating, 0
    for (int64_t r = 0; r < std::min<int64_t>(3, c.n); r++)
      std::fill(codes.begin() + r * c.k, codes.begin() + (r + 1) * c.k,
                static_cast<int8_t>(r == 0 ? 1 : r == 1 ? -1 : 0));
    for (int t = 0; t < c.nt; t++)
      for (int64_t i = 0; i < c.k; i++)
        q[t * kp + i] =
            static_cast<int8_t>(t % 4 == 0 ? 127 : t % 4 == 1 ? -128 : t % 4 == 2 ? (i % 2 ? 127 : -128) : 0);
  }
  const size_t bytes = static_cast<size_t>(t16_bytes(c.n, c.k));
  uint8_t* packed = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  repack_codes(codes.data(), c.n, c.k, packed);
  const TernaryMat w{packed, c.n, c.k, kp, kTileRows * kp / 4};
  for (int groups : {1, static_cast<int>(kp / 256)}) {
    std::vector<int32_t> qsum(static_cast<size_t>(c.nt * groups));
    for (int t = 0; t < c.nt; t++)
      for (int g = 0; g < groups; g++) {
        int32_t s = 0;
        for (int64_t i = g * (kp / groups); i < (g + 1) * (kp / groups); i++) s += q[t * kp + i];
        qsum[t * groups + g] = s;
      }
    const int64_t stride = c.n * groups;
    // A sentinel beyond every written row catches stores past N.
    std::vector<int32_t> want(static_cast<size_t>(c.nt * stride + 16), 0x5a5a5a5a);
    kScalarTable.ternary_acc(w, q.data(), qsum.data(), c.nt, 0, c.n, groups, want.data(), stride);
    for (const Variant& v : vs)
      for (int64_t chunk : splits(c.n, c.nt > 1 ? 16 : 32, kTileRows, {16, 48})) {
        std::vector<int32_t> got(want.size(), 0x5a5a5a5a);
        for (int64_t n0 = 0; n0 < c.n; n0 += chunk)
          v.kt->ternary_acc(w, q.data(), qsum.data(), c.nt, n0, std::min(c.n, n0 + chunk), groups, got.data(), stride);
        check_same(got, want,
                   v.name + " ternary_acc " + fmt("K=%lld N=%lld tokens=%lld groups=%lld", c.k, c.n, c.nt, groups) +
                       " chunk=" + std::to_string(chunk) + (c.extremes ? " extremes" : ""));
      }
  }
  std::free(packed);
}

// ---------------------------------------------------------------------------------------------------------------
// Activation quantizers: the conformance kit's row kinds (packages/conformance/src/inputs.ts).

enum Kind { kNormal, kZero, kHalves, kHalvesNeg, kTiny, kOutlier, kExtreme, kTies };
const char* kKindNames[] = {"normal", "zero", "halves", "halvesNeg", "tiny", "outlier", "extreme", "ties"};

std::vector<float> row_of(Kind kind, int64_t k, Rng& rng) {
  std::vector<float> x(static_cast<size_t>(k), 0.f);
  switch (kind) {
    case kNormal:
      for (auto& v : x) v = rng.normal();
      break;
    case kZero:
      break;
    case kHalves:
    case kHalvesNeg: {  // max |x| = 127, the rest k + 0.5 (ties everywhere once scaled by 1)
      for (auto& v : x) v = static_cast<float>(rng.range(-126, 125)) + 0.5f;
      const float top = kind == kHalves ? 127.f : -127.f;
      x[static_cast<size_t>(rng.range(0, static_cast<int>(k) - 1))] = top;
      for (int64_t b = 0; b + 256 <= k; b += 256) x[static_cast<size_t>(b + rng.range(0, 255))] = top;
      break;
    }
    case kTiny:
      for (auto& v : x) v = rng.normal() * 1e-8f;
      break;
    case kOutlier:
      for (auto& v : x) v = rng.normal() * 0.01f;
      x[static_cast<size_t>(rng.range(0, static_cast<int>(k) - 1))] = 1e4f;
      break;
    case kExtreme:
      for (auto& v : x) v = rng.normal() * 1e29f;
      break;
    case kTies:  // equal magnitudes of both signs: the first one sets the per_block256 sign
      for (auto& v : x) v = static_cast<float>(rng.range(-9, 9));
      for (int64_t b = 0; b < k; b += 256) {
        const int64_t i = b + rng.range(0, 100);
        if (i + 7 < k) {
          x[static_cast<size_t>(i)] = rng.range(0, 1) ? 10.f : -10.f;
          x[static_cast<size_t>(i + 7)] = -x[static_cast<size_t>(i)];
        }
      }
      break;
  }
  return x;
}

void test_quant(const std::vector<Variant>& vs) {
  Rng rng(301);
  for (int64_t k : {2560, 1001, 6912, 768, 256, 17, 16, 3})
    for (int kind = kNormal; kind <= kTies; kind++) {
      const std::vector<float> x = row_of(static_cast<Kind>(kind), k, rng);
      std::vector<int8_t> want(static_cast<size_t>(k));
      std::vector<float> ws = {quant_per_token_scalar(x.data(), k, want.data())};
      const bool blocks = k % 256 == 0;
      const int64_t groups = k / 256;
      std::vector<int8_t> wantb(blocks ? static_cast<size_t>(k) : 0);
      std::vector<float> wsb(static_cast<size_t>(blocks ? groups : 0));
      for (int64_t g = 0; blocks && g < groups; g++)
        wsb[g] = kScalarTable.quant_block256(x.data() + g * 256, wantb.data() + g * 256);
      for (const Variant& v : vs) {
        const std::string what = " K=" + std::to_string(k) + " " + kKindNames[kind];
        std::vector<int8_t> got(static_cast<size_t>(k));
        std::vector<float> gs = {v.kt->quant_per_token(x.data(), k, got.data())};
        check_same(got, want, v.name + " quant_per_token q" + what);
        check_same(gs, ws, v.name + " quant_per_token scale" + what);
        if (!blocks) continue;
        std::vector<int8_t> gotb(static_cast<size_t>(k));
        std::vector<float> gsb(static_cast<size_t>(groups));
        for (int64_t g = 0; g < groups; g++) gsb[g] = v.kt->quant_block256(x.data() + g * 256, gotb.data() + g * 256);
        check_same(gotb, wantb, v.name + " quant_block256 q" + what);
        check_same(gsb, wsb, v.name + " quant_block256 d" + what);
      }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// LM head (f16, f32, q8): the conformance kit's lm-head shapes plus small odd ones, in the addon's row chunks.

enum Format { kF32, kF16, kQ8 };

struct LmCase {
  Format fmt;
  int64_t vocab, d;
  int nt;
  uint64_t seed;
};

void test_lm(const LmCase& c, const std::vector<Variant>& vs) {
  Rng rng(c.seed);
  std::vector<float> wf(static_cast<size_t>(c.vocab * c.d));
  std::vector<uint16_t> wh(wf.size());
  std::vector<int8_t> w8(wf.size());
  std::vector<float> scales(static_cast<size_t>(c.vocab));
  for (size_t i = 0; i < wf.size(); i++) {
    wf[i] = rng.normal() * 0.05f;
    wh[i] = f32_to_f16(wf[i]);
    w8[i] = static_cast<int8_t>(rng.range(-127, 127));
  }
  for (auto& s : scales) s = rng.uniform() * 0.01f + 1e-4f;
  // x as the addon hands it over: rounded through f16 for f16 and q8; q8 also as int16 (addon.cc LmHead).
  std::vector<float> x(static_cast<size_t>(c.nt * c.d));
  for (auto& v : x) v = rng.normal() * 3.f;
  if (c.fmt != kF32)
    for (auto& v : x) v = round_f16(v);
  const int64_t kx = (c.d + 31) / 32 * 32;
  std::vector<int16_t> x16(static_cast<size_t>(c.nt * kx), 0);
  std::vector<float> xinv(static_cast<size_t>(c.nt));
  for (int t = 0; t < c.nt; t++) {
    float m = 0.f;
    for (int64_t i = 0; i < c.d; i++) m = std::max(m, std::fabs(x[t * c.d + i]));
    const float sx = m > 0.f ? 32767.f / m : 0.f;
    for (int64_t i = 0; i < c.d; i++)
      x16[t * kx + i] = static_cast<int16_t>(std::clamp(std::nearbyint(x[t * c.d + i] * sx), -32767.f, 32767.f));
    xinv[t] = m / 32767.f;
  }
  auto run = [&](const KernelTable& kt, int64_t r0, int64_t r1, float* out) {
    if (c.fmt == kF16) kt.lm_f16(wh.data(), c.d, r0, r1, x.data(), c.nt, out, c.vocab);
    else if (c.fmt == kF32) kt.lm_f32(wf.data(), c.d, r0, r1, x.data(), c.nt, out, c.vocab);
    else kt.lm_q8(w8.data(), scales.data(), c.d, r0, r1, x16.data(), kx, xinv.data(), c.nt, out, c.vocab);
  };
  std::vector<float> want(static_cast<size_t>(c.nt * c.vocab), -7.f);
  run(kScalarTable, 0, c.vocab, want.data());
  const char* name = c.fmt == kF16 ? "lm_f16" : c.fmt == kF32 ? "lm_f32" : "lm_q8";
  for (const Variant& v : vs)
    for (int64_t chunk : splits(c.vocab, 72, 24, {5, 24})) {
      std::vector<float> got(want.size(), -7.f);
      for (int64_t r0 = 0; r0 < c.vocab; r0 += chunk) run(*v.kt, r0, std::min(c.vocab, r0 + chunk), got.data());
      check_same(got, want,
                 v.name + " " + name + fmt(" vocab=%lld d=%lld tokens=%lld chunk=%lld", c.vocab, c.d, c.nt, chunk));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Attention inner loops, f16 conversion, the bandwidth probe.

void test_attention(const std::vector<Variant>& vs) {
  Rng rng(701);
  for (int64_t dh : {64, 128, 32, 100, 20, 5})
    for (int64_t n : {1, 7, 33, 300}) {
      std::vector<uint16_t> kc(static_cast<size_t>(n * dh)), vc(kc.size());
      for (size_t i = 0; i < kc.size(); i++) {
        kc[i] = f32_to_f16(rng.normal());
        vc[i] = f32_to_f16(rng.normal());
      }
      std::vector<float> q(static_cast<size_t>(dh)), probs(static_cast<size_t>(n));
      for (auto& v : q) v = round_f16(rng.normal());
      for (auto& v : probs) v = rng.uniform() / static_cast<float>(n);
      std::vector<float> ws(static_cast<size_t>(n)), wv(static_cast<size_t>(dh));
      kScalarTable.scores_f16(q.data(), kc.data(), dh, n, ws.data());
      kScalarTable.wsum_f16(probs.data(), vc.data(), dh, n, wv.data());
      for (const Variant& v : vs) {
        std::vector<float> gs(ws.size()), gv(wv.size(), 123.f);
        v.kt->scores_f16(q.data(), kc.data(), dh, n, gs.data());
        v.kt->wsum_f16(probs.data(), vc.data(), dh, n, gv.data());
        check_same(gs, ws, v.name + fmt(" scores_f16 dh=%lld n=%lld", dh, n, 0));
        check_same(gv, wv, v.name + fmt(" wsum_f16 dh=%lld n=%lld", dh, n, 0));
      }
    }
}

void test_to_f16(const std::vector<Variant>& vs) {
  Rng rng(801);
  std::vector<float> in;
  // Every f16 value and the halfway points above it (round-to-even ties), random bit patterns (NaN payloads,
  // f32 subnormals, overflow), and the specials.
  for (uint32_t h = 0; h < 65536; h++) {
    const float f = f16_to_f32_exact(static_cast<uint16_t>(h));
    in.push_back(f);
    uint32_t b;
    std::memcpy(&b, &f, 4);
    if ((h & 0x7c00) != 0x7c00 && (h & 0x7fff) != 0x7bff) {
      const float g = f16_to_f32_exact(static_cast<uint16_t>(h + 1));
      in.push_back(static_cast<float>((static_cast<double>(f) + g) / 2));
    }
  }
  for (int i = 0; i < 20000; i++) {
    const uint32_t b = static_cast<uint32_t>(rng.next());
    float f;
    std::memcpy(&f, &b, 4);
    in.push_back(f);
  }
  for (float f : {65504.f, 65519.f, 65520.f, 1e-8f, -1e-8f, 5.96e-8f, 2.98e-8f, 3e-8f, INFINITY, -INFINITY, NAN, -NAN})
    in.push_back(f);
  for (int64_t n : {static_cast<int64_t>(in.size()), int64_t{3}, int64_t{13}}) {
    std::vector<uint16_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    kScalarTable.to_f16(in.data() + in.size() - n, want.data(), n);
    for (const Variant& v : vs) {
      v.kt->to_f16(in.data() + in.size() - n, got.data(), n);
      check_same(got, want, v.name + " to_f16 n=" + std::to_string(n));
    }
  }
}

// gated_act (ops.h) is not in the tables: its relu² form has a NEON loop on AArch64 (SSE2 on x86), checked here
// against the scalar formula once per run, NaN, ±0 and ±inf included.
void test_gated_act() {
  Rng rng(1001);
  for (int64_t n : {1, 7, 64, 1003}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(gate.size());
    for (auto& v : gate) v = rng.normal() * 4.f;
    for (auto& v : up) v = rng.normal();
    const float special[] = {NAN, -0.f, 0.f, INFINITY, -INFINITY, 1e-40f, -1e-40f};
    for (size_t i = 0; i < gate.size() && i < 7; i++) gate[i * 7 % gate.size()] = special[i];
    std::vector<float> want(gate.size()), got(gate.size());
    for (size_t i = 0; i < gate.size(); i++) {
      const float r = gate[i] > 0.f ? gate[i] : 0.f;
      want[i] = r * r * up[i];
    }
    gated_act(got.data(), gate.data(), up.data(), 0, n);
    check_same(got, want, "gated_act relu2 n=" + std::to_string(n));
  }
}

void test_read_sum(const std::vector<Variant>& vs) {
  Rng rng(901);
  for (int64_t n : {256, 768, 1 << 20}) {
    uint8_t* p = static_cast<uint8_t*>(std::aligned_alloc(64, static_cast<size_t>(n)));
    for (int64_t i = 0; i < n; i++) p[i] = static_cast<uint8_t>(rng.next());
    const std::vector<uint64_t> want = {kScalarTable.read_sum(p, n)};
    for (const Variant& v : vs)
      check_same(std::vector<uint64_t>{v.kt->read_sum(p, n)}, want, v.name + " read_sum n=" + std::to_string(n));
    std::free(p);
  }
}

// ---------------------------------------------------------------------------------------------------------------

std::vector<std::string> all_variants() {
#if defined(__aarch64__)
  return {"neon", "dotprod", "i8mm"};
#else
  return {};
#endif
}

const KernelTable* select(const std::string& name, std::string& why) {
#if defined(__aarch64__)
  const char* w = nullptr;
  const KernelTable* kt = arm_table(name.c_str(), arm_features(), &w);
  why = w != nullptr ? w : "not an ARM variant";
  return kt;
#else
  why = "this harness checks ARM variants; built for another architecture";
  return nullptr;
#endif
}

}  // namespace
}  // namespace trine

int main(int argc, char** argv) {
  using namespace trine;
  std::map<std::string, bool> expect;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) != "--expect") {
      std::fprintf(stderr, "usage: harness [--expect name=0|1,...]\n");
      return 2;
    }
    std::string s = argv[i + 1];
    for (size_t p = 0; p < s.size();) {
      const size_t e = s.find(',', p) == std::string::npos ? s.size() : s.find(',', p);
      const std::string item = s.substr(p, e - p);
      const size_t eq = item.find('=');
      if (eq != std::string::npos) expect[item.substr(0, eq)] = item.substr(eq + 1) == "1";
      p = e + 1;
    }
  }
#if defined(__aarch64__)
  const ArmFeatures f = arm_features();
  std::printf("detected: dotprod=%d i8mm=%d fp16=%d best=%s\n", f.dotprod, f.i8mm, f.fp16, arm_best(f));
#endif
  std::vector<std::string> names = all_variants();
  const char* forced = std::getenv("TRINE_CPU_VARIANT");
  if (forced != nullptr && *forced != '\0') names = {forced};
  std::vector<Variant> vs;
  for (const std::string& n : names) {
    std::string why;
    const KernelTable* kt = select(n, why);
    if (expect.count(n)) check((kt != nullptr) == expect[n], "detection of " + n, kt ? "available" : "unavailable");
    if (kt == nullptr) {
      std::printf("variant %s: unavailable (%s)\n", n.c_str(), why.c_str());
      if (!expect.count(n)) check(false, "variant " + n + " was asked for", why);
      continue;
    }
    std::printf("variant %s: table %s\n", n.c_str(), kt->name);
    vs.push_back({n, kt});
  }
  if (!vs.empty()) {
    const TernaryCase ternary[] = {
        // packages/conformance/src/cases/ternary-common.ts
        {1001, 33, 1, false, 501}, {333, 7, 3, true, 502}, {640, 37, 3, false, 503}, {2560, 5, 4, true, 504},
        {512, 31, 2, false, 505}, {768, 17, 3, false, 506}, {256, 9, 1, false, 507}, {6912, 3, 4, true, 508},
        {1024, 13, 2, false, 509}, {2560, 6912, 1, false, 511}, {6912, 2560, 1, false, 512}, {2560, 640, 2, false, 513},
        // batched decode and prefill: token counts that leave every tail of the 4/2/1-token blocks
        {2560, 100, 8, false, 520}, {768, 50, 9, true, 521}, {1001, 33, 5, false, 522}, {640, 64, 7, false, 523},
        {2560, 160, 32, false, 524}, {256, 1, 3, true, 525},
    };
    for (const TernaryCase& c : ternary) test_ternary(c, vs);
    test_quant(vs);
    const LmCase lm[] = {
        // packages/conformance/src/cases/lm-head.ts
        {kF32, 97, 64, 1, 1001}, {kF16, 1000, 256, 3, 1002}, {kQ8, 1000, 256, 3, 1003}, {kF32, 333, 257, 4, 1004},
        {kF16, 1000, 257, 9, 1007}, {kF32, 1000, 257, 9, 1008}, {kF16, 3000, 2560, 1, 1005}, {kQ8, 1024, 2560, 2, 1006},
        // odd tails everywhere
        {kF16, 7, 3, 2, 1010}, {kF32, 50, 5, 1, 1011}, {kQ8, 333, 257, 4, 1012}, {kQ8, 40, 1001, 5, 1013},
        {kF16, 19, 1001, 8, 1014}, {kF16, 200, 64, 1, 1015},
    };
    for (const LmCase& c : lm) test_lm(c, vs);
    test_attention(vs);
    test_to_f16(vs);
    test_read_sum(vs);
    test_gated_act();
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
