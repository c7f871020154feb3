// Aligned native buffers exposed to JS as external ArrayBuffers (T16 weights, converted matrices, KV caches).
#include <cstdlib>
#include <cstring>
#include <string>

#include "glue.h"

#if defined(__unix__)
#include <sys/mman.h>
#endif

namespace trine {
namespace glue {

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

// allocAligned(bytes) → zeroed 64-byte aligned ArrayBuffer
Napi::Value AllocAligned(const Napi::CallbackInfo& info) {
  AllocArgs a;
  if (!parse(info, a)) return info.Env().Undefined();
  return aligned_buffer(info.Env(), a.bytes, true);
}

}  // namespace glue
}  // namespace trine
