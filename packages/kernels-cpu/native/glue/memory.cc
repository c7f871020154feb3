// Aligned native buffers exposed to JS as external ArrayBuffers (T16 weights, converted matrices, KV caches).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "glue.h"

#if defined(__unix__)
#include <sys/mman.h>
#endif

namespace trine {
namespace glue {

#if defined(__linux__)
namespace {
constexpr size_t kHuge = size_t{2} << 20;
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

// Weights are read whole for every token; on 2 MB pages that stream takes fewer TLB misses and page walks (at 1
// thread on Zen 5 a read sweep went from 33 to 44 GB/s, the f16 LM head from 24 to 19 ms, the 2B4T FFN matrices
// from 10.5 to 8.1 ms a token). Only where the kernel allows it (THP "madvise" or "always"); elsewhere the advice
// is ignored and nothing changes.
void* map_huge(size_t bytes, size_t* mapped) {
  // Page rounded, not 2 MB rounded: the whole 2 MB pieces of a matrix go on huge pages and its tail stays on small
  // ones, so a 4.4 MB matrix wastes nothing (rounding each of 2B4T's 210 matrices up would waste ~150 MB).
  const size_t rounded = (bytes + 4095) / 4096 * 4096;
  void* m = mmap(nullptr, rounded + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(m), start = (base + kHuge - 1) / kHuge * kHuge;
  if (start > base) munmap(m, start - base);  // trim to a 2 MB aligned range
  const uintptr_t end = start + rounded, stop = base + rounded + kHuge;
  if (stop > end) munmap(reinterpret_cast<void*>(end), stop - end);
  madvise(reinterpret_cast<void*>(start), rounded, MADV_HUGEPAGE);
  *mapped = rounded;
  return reinterpret_cast<void*>(start);
}

// Weight arena: matrices under half a chunk share 32 MB chunks, so 2B4T's 1.6 MB attention matrices and 0.4 MB
// K/V matrices sit on huge pages too (alone, none of their pages would be a whole aligned 2 MB). Bump allocation,
// first fit over the chunks with room; a chunk is unmapped when the last matrix in it is freed. Fresh pages are
// zero and never reused, so a piece is zero like any new mapping. Finalizers may come from several Node
// environments (worker threads), hence the lock.
constexpr size_t kChunk = size_t{32} << 20;

struct Chunk {
  uint8_t* base;
  size_t size, used = 0, refs = 0;
};

std::mutex arena_mu;
std::vector<Chunk*> arena_open;  // chunks that still have room

uint8_t* arena_take(size_t bytes, Chunk** owner) {
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  std::lock_guard<std::mutex> lock(arena_mu);
  Chunk* c = nullptr;
  for (Chunk* o : arena_open)
    if (o->size - o->used >= bytes) {
      c = o;
      break;
    }
  if (c == nullptr) {
    size_t mapped = 0;
    void* m = map_huge(kChunk, &mapped);
    if (m == nullptr) return nullptr;
    c = new Chunk{static_cast<uint8_t*>(m), mapped};
    arena_open.push_back(c);
  }
  uint8_t* p = c->base + c->used;
  c->used += bytes;
  c->refs++;
  if (c->size - c->used < (size_t{64} << 10))  // full enough: stop searching it
    arena_open.erase(std::find(arena_open.begin(), arena_open.end(), c));
  *owner = c;
  return p;
}

void arena_release(Chunk* c) {
  std::lock_guard<std::mutex> lock(arena_mu);
  if (--c->refs > 0) return;
  const auto it = std::find(arena_open.begin(), arena_open.end(), c);
  if (it != arena_open.end()) arena_open.erase(it);
  munmap(c->base, c->size);
  delete c;
}
}  // namespace

void advise_huge_pages(const void* p, size_t bytes) {
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) / kHuge * kHuge;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) / kHuge * kHuge;
  if (e <= a) return;
  // An already filled buffer (the file's bytes, adopted): MADV_COLLAPSE (Linux 6.1) moves it onto huge pages now;
  // where it is missing, MADV_HUGEPAGE lets khugepaged do it later.
  madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);
  madvise(reinterpret_cast<void*>(a), e - a, MADV_COLLAPSE);
}

uint8_t* huge_alloc(size_t bytes, size_t* mapped) { return static_cast<uint8_t*>(map_huge(bytes, mapped)); }
void huge_free(uint8_t* p, size_t mapped) { munmap(p, mapped); }
#else
void advise_huge_pages(const void*, size_t) {}
uint8_t* huge_alloc(size_t bytes, size_t* mapped) {
  *mapped = (bytes + kAlign - 1) / kAlign * kAlign;
  return static_cast<uint8_t*>(std::aligned_alloc(kAlign, *mapped));
}
void huge_free(uint8_t* p, size_t) { std::free(p); }
#endif

#if defined(__unix__)
namespace {
Napi::ArrayBuffer out_of_memory(Napi::Env env, size_t bytes) {
  Napi::Error::New(env, "out of memory mapping " + std::to_string(bytes) + " bytes").ThrowAsJavaScriptException();
  return Napi::ArrayBuffer();
}

// A mapping of `mapped` bytes at m, unmapped by the ArrayBuffer's finalizer.
Napi::ArrayBuffer mapped_buffer(Napi::Env env, void* m, size_t bytes, size_t mapped) {
  return Napi::ArrayBuffer::New(
      env, m, bytes, [](Napi::Env, void* data, size_t* len) { munmap(data, *len); delete len; }, new size_t(mapped));
}
}  // namespace
#endif

Napi::ArrayBuffer aligned_buffer(Napi::Env env, size_t bytes, bool zero, bool huge) {
#if defined(__linux__)
  if (huge && bytes > 0 && bytes < kChunk / 2) {
    Chunk* owner = nullptr;
    uint8_t* p = arena_take(bytes, &owner);
    if (p == nullptr) return out_of_memory(env, bytes);
    return Napi::ArrayBuffer::New(
        env, p, bytes, [](Napi::Env, void*, Chunk* c) { arena_release(c); }, owner);
  }
  if (huge && bytes >= kHuge) {  // fresh pages are zero, whatever `zero` asks
    size_t mapped = 0;
    void* m = map_huge(bytes, &mapped);
    return m == nullptr ? out_of_memory(env, bytes) : mapped_buffer(env, m, bytes, mapped);
  }
#endif
#if defined(__unix__)
  // Large zeroed buffers (KV caches) come straight from mmap: page aligned, and zero pages cost no memory until
  // written, so a long context that is never filled does not count in RSS.
  if (zero && bytes >= (1u << 20)) {
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? out_of_memory(env, bytes) : mapped_buffer(env, m, bytes, bytes);
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

// allocWeights(bytes) → 64-byte aligned ArrayBuffer on huge pages where the OS allows (contents zero)
Napi::Value AllocWeights(const Napi::CallbackInfo& info) {
  AllocArgs a;
  if (!parse(info, a)) return info.Env().Undefined();
  return aligned_buffer(info.Env(), a.bytes, true, true);
}

// adviseHugePages(view): the view's whole 2 MB pages onto huge pages (an adopted weight matrix).
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  if (info.Length() == 1 && info[0].IsTypedArray()) {
    const Napi::TypedArray t = info[0].As<Napi::TypedArray>();
    advise_huge_pages(static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength());
  }
  return info.Env().Undefined();
}

}  // namespace glue
}  // namespace trine
