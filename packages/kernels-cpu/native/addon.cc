// N-API entry of the native CPU backend. Compiled WITHOUT SIMD flags: it reaches SIMD code only through the
// KernelTable chosen at run time, so the addon loads on any CPU of its architecture. Context-aware (Napi::Addon):
// every worker_thread that loads it gets its own instance, and all mutable state lives in Backend objects.
//
// Storage: tensors are JS typed arrays (the JS side owns them); ternary matrices, output matrices and KV caches
// live in 64-byte aligned native buffers exposed as external ArrayBuffers. The JS side validates shapes; every
// call's arguments are checked again in glue/args.cc (types, ranges, every byte length the op indexes) before
// the op's glue (glue/<op>.cc) touches memory, so a bad call throws instead of touching memory it does not own.
#include <napi.h>

#include <algorithm>
#include <string>

#include "glue/glue.h"

namespace trine {
namespace glue {

Napi::Function Backend::Define(Napi::Env env) {
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
                         InstanceMethod("gemvKernels", &Backend::GemvKernels),
                         InstanceMethod("setGemv", &Backend::SetGemv),
                     });
}

// new NativeCpuBackend(variant: string, threads: number)
Backend::Backend(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Backend>(info) {
  Napi::Env env = info.Env();
  BackendArgs a;
  if (!parse(info, a)) return;
  std::string why;
  kt_ = table_for(a.variant, detect(), why);
  if (kt_ == nullptr) {
    Napi::Error::New(env, why).ThrowAsJavaScriptException();
    return;
  }
  pool_ = std::make_unique<ThreadPool>(static_cast<int>(std::clamp<int64_t>(a.threads, 1, 256)));
}

bool Backend::alive(Napi::Env env) {
  if (pool_) return true;
  Napi::Error::New(env, "backend destroyed").ThrowAsJavaScriptException();
  return false;
}

Napi::Value Backend::Variant(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kt_ ? kt_->name : ""); }

Napi::Value Backend::Threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pool_ ? pool_->size() : 0);
}

Napi::Value Backend::Destroy(const Napi::CallbackInfo& info) {
  pool_.reset();
  return info.Env().Undefined();
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceValue("NativeCpuBackend", Backend::Define(env), napi_enumerable),
                             InstanceMethod("repackTernary", &Addon::Repack, napi_enumerable),
                             InstanceMethod("unpackTernaryRow", &Addon::Unpack, napi_enumerable),
                             InstanceMethod("allocAligned", &Addon::Alloc, napi_enumerable),
                             InstanceMethod("adviseHugePages", &Addon::Huge, napi_enumerable),
                             InstanceMethod("allocWeights", &Addon::Weights, napi_enumerable),
                             InstanceMethod("quantizeQ8", &Addon::Q8, napi_enumerable),
                             InstanceMethod("hostInfo", &Addon::Host, napi_enumerable),
                         });
  }

 private:
  Napi::Value Repack(const Napi::CallbackInfo& info) { return RepackTernary(info); }
  Napi::Value Unpack(const Napi::CallbackInfo& info) { return UnpackTernaryRow(info); }
  Napi::Value Alloc(const Napi::CallbackInfo& info) { return AllocAligned(info); }
  Napi::Value Huge(const Napi::CallbackInfo& info) { return AdviseHugePages(info); }
  Napi::Value Weights(const Napi::CallbackInfo& info) { return AllocWeights(info); }
  Napi::Value Q8(const Napi::CallbackInfo& info) { return QuantizeQ8(info); }
  Napi::Value Host(const Napi::CallbackInfo& info) { return HostInfo(info); }
};

}  // namespace glue
}  // namespace trine

using TrineCpuAddon = trine::glue::Addon;
NODE_API_ADDON(TrineCpuAddon)
