// ARM feature detection and variant choice (baseline flags: it runs before anything is known about the CPU).
// Linux: the kernel's HWCAP bits (getauxval). macOS: sysctlbyname hw.optional.arm.FEAT_* (hw.optional.armv8_2_dotprod
// on macOS 11). Elsewhere only plain NEON, which AArch64 guarantees.
#if defined(__aarch64__)
#include <cstring>

#include "../common.h"

#if defined(__linux__)
#include <sys/auxv.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace trine {

namespace {

#if defined(__APPLE__)
bool sysctl_flag(const char* name) {
  int v = 0;
  size_t len = sizeof(v);
  return sysctlbyname(name, &v, &len, nullptr, 0) == 0 && v != 0;
}
#endif

bool named(const char* v, const char* a, const char* b) { return std::strcmp(v, a) == 0 || std::strcmp(v, b) == 0; }

}  // namespace

ArmFeatures arm_features() {
  ArmFeatures f;
#if defined(__linux__)
  // Bit numbers of arch/arm64/include/uapi/asm/hwcap.h (older libc headers may not name them).
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  f.dotprod = (hw & (1UL << 20)) != 0;                          // HWCAP_ASIMDDP
  f.fp16 = (hw & (1UL << 9)) != 0 && (hw & (1UL << 10)) != 0;  // HWCAP_FPHP, HWCAP_ASIMDHP
  f.i8mm = (hw2 & (1UL << 13)) != 0;                            // HWCAP2_I8MM
#elif defined(__APPLE__)
  f.dotprod = sysctl_flag("hw.optional.arm.FEAT_DotProd") || sysctl_flag("hw.optional.armv8_2_dotprod");
  f.i8mm = sysctl_flag("hw.optional.arm.FEAT_I8MM");
  f.fp16 = sysctl_flag("hw.optional.arm.FEAT_FP16") || sysctl_flag("hw.optional.neon_fp16");
#endif
  return f;
}

const KernelTable* arm_table(const char* v, const ArmFeatures& f, const char** why) {
  *why = nullptr;
  if (named(v, "neon", kNeonTable.name)) return &kNeonTable;
  if (named(v, "dotprod", kNeonDotTable.name)) {
    if (f.dotprod) return &kNeonDotTable;
    *why = "this CPU lacks the NEON dot-product extension (FEAT_DotProd)";
    return nullptr;
  }
  if (named(v, "i8mm", kNeonI8mmTable.name)) {
    // The i8mm table also uses SDOT (decode, odd tokens).
    if (f.i8mm && f.dotprod) return &kNeonI8mmTable;
    *why = "this CPU lacks the int8 matrix-multiply extension (FEAT_I8MM)";
    return nullptr;
  }
  return nullptr;
}

const char* arm_best(const ArmFeatures& f) {
  if (f.i8mm && f.dotprod) return "i8mm";
  if (f.dotprod) return "dotprod";
  return "neon";
}

}  // namespace trine
#endif
