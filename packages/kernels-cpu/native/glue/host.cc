// Host features and the code path each variant name selects.
#include <string>

#include "glue.h"

namespace trine {
namespace glue {
namespace {

const char* best_variant(const Features& f) {
  if (f.avx512 && f.f16c && f.fma) return "avx512";
  if (f.avx2 && f.fma && f.f16c) return "avx2";
#if defined(__aarch64__)
  return arm_best(arm_features());  // NEON is baseline on AArch64
#endif
  return "scalar";
}

}  // namespace

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

}  // namespace glue
}  // namespace trine
