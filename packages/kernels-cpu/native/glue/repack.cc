// repackTernary: a file's ternary bytes (codes, I2_S, TQ2_0, TQ1_0) into T16 (common.h); unpackTernaryRow: one
// row back to int8 weights (tests).
#include "glue.h"

namespace trine {
namespace glue {

Napi::Value RepackTernary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RepackArgs a;
  if (!parse(info, a)) return env.Undefined();
  Napi::ArrayBuffer ab = aligned_buffer(env, static_cast<size_t>(t16_bytes(a.rows, a.cols)), false, true);
  if (env.IsExceptionPending()) return env.Undefined();
  uint8_t* dst = static_cast<uint8_t*>(ab.Data());
  switch (a.format) {
    case kCodes: repack_codes(reinterpret_cast<const int8_t*>(a.data), a.rows, a.cols, dst); break;
    case kI2S: repack_i2s(a.data, a.rows, a.cols, dst); break;
    case kTq2_0: repack_tq2_0(a.data, a.rows, a.cols, dst); break;
    default: repack_tq1_0(a.data, a.rows, a.cols, dst); break;
  }
  return ab;
}

Napi::Value UnpackTernaryRow(const Napi::CallbackInfo& info) {
  UnpackRowArgs a;
  if (parse(info, a)) unpack_row(a.packed, a.cols, a.row, a.out);
  return info.Env().Undefined();
}

}  // namespace glue
}  // namespace trine
