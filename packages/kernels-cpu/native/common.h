// Shared declarations of the native CPU backend: the repacked ternary layout, the kernel signatures, and one
// table of kernels per code path (scalar, avx2, avx512, neon). The N-API glue (addon.cc) is compiled without any
// SIMD flags and only reaches SIMD code through these tables, so the addon loads on any CPU of its architecture.
#pragma once
#include <cstddef>
#include <cstdint>

namespace trine {

// ---------------------------------------------------------------------------------------------------------------
// TB256: the repacked ternary layout (what uploadTernary produces).
//
// Each output row of W [N, K] is padded to Kp = roundup(K, 256) columns and cut into blocks of 256 weights stored
// as 64 bytes: exactly 2.0 bits per weight, no per-block scale (the float scales live beside the matrix).
// Code c = w + 1 ∈ {0, 1, 2} (3 never occurs). Byte j (0..63) of a block holds
//   weight j       in bits 1-0,   weight j + 64  in bits 3-2,
//   weight j + 128 in bits 5-4,   weight j + 192 in bits 7-6.
// So one 64-byte load followed by (v >> 2s) & 3 gives 64 consecutive weights [64s, 64s+64) for s = 0..3: exactly
// one AVX-512 register of unsigned codes to feed vpdpbusd against 64 consecutive int8 activations. AVX2 takes the
// two 32-byte halves; NEON the four 16-byte quarters. Padding columns hold code 1 (weight 0) and meet zero
// activations (kernels read activations from a zero-padded copy), so they add nothing.
// Worked byte: weights (w_j, w_j+64, w_j+128, w_j+192) = (+1, 0, -1, +1) → codes (2, 1, 0, 2)
//   → byte = 2 | 1<<2 | 0<<4 | 2<<6 = 0b10_00_01_10 = 0x86.
// The kernels compute Σ c·q − Σ q = Σ w·q (unsigned codes × signed int8, as bitnet.cpp's I2_S kernel does).
constexpr int kBlockWeights = 256;
constexpr int kBlockBytes = 64;
constexpr int kBitsPerWeight = 2;
static_assert(kBlockWeights * kBitsPerWeight == kBlockBytes * 8, "TB256 block must hold 256 2-bit codes in 64 bytes");
constexpr uint8_t kTb256WorkedByte = 2 | (1 << 2) | (0 << 4) | (2 << 6);
static_assert(kTb256WorkedByte == 0x86, "TB256 worked byte example");

// Header helpers are `static inline`: SIMD translation units include this file too, and an `inline` function
// emitted there with AVX-512 code could be the copy the linker keeps for the glue.
static inline int64_t padded_cols(int64_t k) { return (k + kBlockWeights - 1) / kBlockWeights * kBlockWeights; }
static inline int64_t tb256_row_bytes(int64_t k) { return padded_cols(k) / 4; }

struct TernaryMat {
  const uint8_t* packed;  // rows × row_bytes, 64-byte aligned
  int64_t rows;           // N
  int64_t cols;           // K
  int64_t kp;             // padded K (multiple of 256)
  int64_t row_bytes;      // kp / 4
};

// Integer kernel: for tokens t in [0, nt) and output rows n in [n0, n1), acc[t*acc_stride + n*groups + g] = Σ w·q
// over group g (groups = 1: the whole row; groups = kp/256: one per 256-block). q is [nt, kp] int8, zero-padded;
// qsum is [nt, groups] = Σ q over each group (the offset the unsigned codes add).
using TernaryAccFn = void (*)(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0,
                              int64_t n1, int groups, int32_t* acc, int64_t acc_stride);

// LM head over f16 rows: out[t*out_stride + r] = Σ_k f16(W[r,k]) · x[t,k] for rows r in [r0, r1), tokens t < nt.
// x is [nt, k] f32 already rounded through f16.
using LmF16Fn = void (*)(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                         int64_t out_stride);
using LmF32Fn = void (*)(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                         int64_t out_stride);
// q8 rows: out = scale[r] · Σ_k q[r,k] · x[t,k].
using LmQ8Fn = void (*)(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const float* x,
                        int nt, float* out, int64_t out_stride);
// Per-token quantization of one row (see quantize.cc for the exact rule); returns the f32 scale.
using QuantRowFn = float (*)(const float* x, int64_t k, int8_t* q);
// Attention inner loops over an f16 cache: Σ a[i]·f16(b[i]), and y[i] += a · f16(x[i]).
using DotF16Fn = float (*)(const float* a, const uint16_t* b, int64_t n);
using AxpyF16Fn = void (*)(float* y, float a, const uint16_t* x, int64_t n);

struct KernelTable {
  const char* name;
  TernaryAccFn ternary_acc;
  LmF16Fn lm_f16;
  LmF32Fn lm_f32;
  LmQ8Fn lm_q8;
  QuantRowFn quant_per_token;
  DotF16Fn dot_f16;
  AxpyF16Fn axpy_f16;
};

// Defined in each static library; the glue picks one at run time.
extern const KernelTable kScalarTable;
#if defined(__x86_64__) || defined(_M_X64)
extern const KernelTable kAvx2Table;
extern const KernelTable kAvx512Table;
#endif
#if defined(__aarch64__)
extern const KernelTable kNeonTable;
#endif

// ---------------------------------------------------------------------------------------------------------------
// Scalar helpers shared by every path (generic/).
extern float kF16ToF32[65536];  // filled at load; the scalar path's conversion
static inline float f16_to_f32(uint16_t h) { return kF16ToF32[h]; }
float f16_to_f32_exact(uint16_t h);  // the bit-level definition the table is built from
uint16_t f32_to_f16(float f);  // round to nearest even
static inline float round_f16(float f) { return f16_to_f32(f32_to_f16(f)); }

// Reference quantizers (bit-exact definitions; SIMD versions must agree).
float quant_per_token_scalar(const float* x, int64_t k, int8_t* q);
// Q8_K of one 256-element block; returns d.
float quant_block256_scalar(const float* x, int8_t* q);

// Repacking into TB256. Return false on a bad size.
void repack_codes(const int8_t* codes, int64_t rows, int64_t cols, uint8_t* dst);
void repack_i2s(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);
void repack_tq2_0(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);
void repack_tq1_0(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);
// Expand one TB256 row back to int8 weights (tests, debugging).
void unpack_row(const uint8_t* row, int64_t cols, int8_t* out);

}  // namespace trine
