// Shared declarations of the native CPU backend: the repacked ternary layout, the kernel signatures, and one
// table of kernels per code path (scalar, avx2, avx512, neon). The N-API glue (addon.cc) is compiled without any
// SIMD flags and only reaches SIMD code through these tables, so the addon loads on any CPU of its architecture.
#pragma once
#include <cstddef>
#include <cstdint>

namespace trine {

void softmax_scalar(float* s, int64_t n, float scale, bool round);
// exp(x) for the softmax (x ≤ 0): Cephes' expf — n = round(x·log2 e) by the 1.5·2²³ shift, r = x − n·ln2 in two
// parts, a degree-7 polynomial, ·2ⁿ from the exponent bits; 0 below −87 (2⁻¹²⁶). About 1 ulp.
namespace softmax_exp {
constexpr float kLog2e = 1.44269504088896341f, kShift = 12582912.f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kMin = -87.0f;
constexpr float kP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                         5.0000001201e-1f};
}  // namespace softmax_exp

// ---------------------------------------------------------------------------------------------------------------
// T16: the repacked ternary layout (what uploadTernary produces).
//
// W [N, K] is padded to Np = roundup(N, 16) rows and Kp = roundup(K, 256) columns and cut into tiles of 16 rows ×
// 16 columns = 256 weights stored in 64 bytes: exactly 2.0 bits per weight, no per-tile scale (the float scales
// live beside the matrix). Code c = w + 1 ∈ {0, 1, 2} (3 never occurs). Byte j = 4i + b (i = row in the tile
// 0..15, b = 0..3) of a tile at (row r0, column k0) holds, in bits 2s+1..2s (s = 0..3), the code of weight
// (r0 + i, k0 + 4s + b). The tiles of one 16-row group follow each other along k (4·Kp bytes per group), groups
// follow each other down the rows.
// So one 64-byte load and (v >> 2s) & 3 give, in 32-bit lane i, row i's four codes for columns k0+4s..k0+4s+3:
// vpdpbusd against those four int8 activations broadcast to every lane adds them into lane i — sixteen output rows
// accumulate side by side and no horizontal sum is ever needed (AVX2: two 8-row halves; NEON: four 4-row
// quarters with a by-lane dot product). Padding rows and columns hold code 1 (weight 0); padding columns also meet
// zero activations (kernels read activations from a zero-padded copy), and padding rows are never stored.
// Worked byte: byte 0 of a tile holds weights (r0, k0), (r0, k0+4), (r0, k0+8), (r0, k0+12); for (+1, 0, -1, +1)
//   the codes are (2, 1, 0, 2) → byte = 2 | 1<<2 | 0<<4 | 2<<6 = 0b10_00_01_10 = 0x86.
// The kernels compute Σ c·q − Σ q = Σ w·q (unsigned codes × signed int8, as bitnet.cpp's I2_S kernel does).
constexpr int kTileRows = 16;
constexpr int kTileCols = 16;
constexpr int kTileBytes = 64;
constexpr int kBitsPerWeight = 2;
constexpr int kColPad = 256;  // per_block256 groups are whole runs of 16 tiles
static_assert(kTileRows * kTileCols * kBitsPerWeight == kTileBytes * 8, "a T16 tile holds 256 2-bit codes in 64 bytes");
constexpr uint8_t kT16WorkedByte = 2 | (1 << 2) | (0 << 4) | (2 << 6);
static_assert(kT16WorkedByte == 0x86, "T16 worked byte example");

// Header helpers are `static inline`: SIMD translation units include this file too, and an `inline` function
// emitted there with AVX-512 code could be the copy the linker keeps for the glue.
static inline int64_t padded_cols(int64_t k) { return (k + kColPad - 1) / kColPad * kColPad; }
static inline int64_t padded_rows(int64_t n) { return (n + kTileRows - 1) / kTileRows * kTileRows; }
static inline int64_t t16_bytes(int64_t n, int64_t k) { return padded_rows(n) * padded_cols(k) / 4; }

struct TernaryMat {
  const uint8_t* packed;  // T16, 64-byte aligned
  int64_t rows;           // N (outputs beyond N are never stored)
  int64_t cols;           // K
  int64_t kp;             // padded K (multiple of 256)
  int64_t group_bytes;    // bytes of one 16-row group = 16 · kp / 4
  const uint8_t* tile(int64_t row_group, int64_t k0) const { return packed + row_group * group_bytes + (k0 / kTileCols) * kTileBytes; }
};

// Integer kernel: for tokens t in [0, nt) and output rows n in [n0, n1) (n0 a multiple of 16),
// acc[t*acc_stride + n*groups + g] = Σ w·q over group g (groups = 1: the whole row; groups = kp/256: one per 256
// columns). Rows ≥ N are not stored. q is [nt, kp] int8, zero-padded; qsum is [nt, groups] = Σ q over each group
// (the offset the unsigned codes add).
using TernaryAccFn = void (*)(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int nt, int64_t n0,
                              int64_t n1, int groups, int32_t* acc, int64_t acc_stride);

// LM head over f16 rows: out[t*out_stride + r] = Σ_k f16(W[r,k]) · x[t,k] for rows r in [r0, r1), tokens t < nt.
// x is [nt, k] f32 already rounded through f16.
using LmF16Fn = void (*)(const uint16_t* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                         int64_t out_stride);
using LmF32Fn = void (*)(const float* w, int64_t k, int64_t r0, int64_t r1, const float* x, int nt, float* out,
                         int64_t out_stride);
// q8 rows: out[t,r] = scale[r] · xinv[t] · Σ_b f32(Σ_{k in block b} q[r,k] · x16[t,k]), blocks of 256 columns.
// x16 is the f16-rounded activation scaled to int16 (x16 = roundHalfEven(x · 32767 / max|x|), xinv = max|x| / 32767,
// rows of kx ≥ k elements, zero padded): int8 × int16 products summed exactly in i32 within a block (≤ 127 · 32767
// · 256 < 2^31), so the dot product costs one widening and one multiply-add per 32 weights (AVX-512).
using LmQ8Fn = void (*)(const int8_t* w, const float* scales, int64_t k, int64_t r0, int64_t r1, const int16_t* x16,
                        int64_t kx, const float* xinv, int nt, float* out, int64_t out_stride);
constexpr int kQ8Block = 256;
// Per-token quantization of one row (see quantize.cc for the exact rule); returns the f32 scale.
using QuantRowFn = float (*)(const float* x, int64_t k, int8_t* q);
// Q8_K of one 256-element block (per_block256, see quantize.cc); returns d.
using QuantBlockFn = float (*)(const float* x, int8_t* q);
// Attention inner loops over one head's f16 cache rows (dh elements each, contiguous by position):
// scores: out[p] = Σ_i q[i]·f16(k[p·dh + i]) for p < n;  wsum: out[i] = Σ_p probs[p]·f16(v[p·dh + i]).
using ScoresF16Fn = void (*)(const float* q, const uint16_t* k, int64_t dh, int64_t n, float* out);
using WsumF16Fn = void (*)(const float* probs, const uint16_t* v, int64_t dh, int64_t n, float* out);
// out[i] = f16(in[i]), round to nearest even (KV stores, Q rounding).
using ToF16Fn = void (*)(const float* in, uint16_t* out, int64_t n);
// Attention probabilities in place: s[p] ← exp(s[p]·scale − max) / Σ (then rounded through f16 when `round`).
// Defined by softmax_scalar (generic/float_ops.cc) step by step in IEEE single operations, with the sum in f64
// over 16 interleaved partial sums, so a 16-lane version doing the same operations gives the same bits.
using SoftmaxFn = void (*)(float* s, int64_t n, float scale, bool round);
// Reads n bytes (n a multiple of 256, p 64-byte aligned) and returns a checksum: the memory-bandwidth probe.
using ReadSumFn = uint64_t (*)(const uint8_t* p, int64_t n);

// Batch-1 ternary kernels (decode): the same sums as TernaryAccFn for nt = 1, by another tiling or instruction width.
// Integer sums are exact, so every candidate gives the same accumulators bit for bit; which is fastest depends on the
// CPU (a 512-bit op is one pass on Zen 5 and Intel, two halves on Zen 4) and on how the weights stream from memory,
// so the backend times them on the model's own matrices and keeps the fastest (src/tune.ts).
using GemvFn = void (*)(const TernaryMat& w, const int8_t* q, const int32_t* qsum, int64_t n0, int64_t n1, int groups,
                        int32_t* acc);
struct GemvKernel {
  const char* name;
  GemvFn fn;
};

struct KernelTable {
  const char* name;
  TernaryAccFn ternary_acc;
  LmF16Fn lm_f16;
  LmF32Fn lm_f32;
  LmQ8Fn lm_q8;
  QuantRowFn quant_per_token;
  QuantBlockFn quant_block256;
  ScoresF16Fn scores_f16;
  WsumF16Fn wsum_f16;
  ToF16Fn to_f16;
  ReadSumFn read_sum;
  // Batch-1 candidates (empty: ternary_acc alone); [0] is used until the backend has measured them.
  const GemvKernel* gemv = nullptr;
  int gemv_count = 0;
  SoftmaxFn softmax = softmax_scalar;  // the definition, unless a path has its own (same bits)
};

// Defined in each static library; the glue picks one at run time.
extern const KernelTable kScalarTable;
#if defined(__x86_64__) || defined(_M_X64)
extern const KernelTable kAvx2Table;
extern const KernelTable kAvx512Table;
#endif
#if defined(__aarch64__)
extern const KernelTable kNeonTable;       // arm/neon.cc: NEON, which every AArch64 CPU has
extern const KernelTable kNeonDotTable;    // arm/dotprod.cc: + SDOT (FEAT_DotProd)
extern const KernelTable kNeonI8mmTable;   // arm/i8mm.cc: + SMMLA (FEAT_I8MM)
// arm/detect.cc: what the CPU runs (getauxval on Linux, sysctlbyname on macOS; false elsewhere).
struct ArmFeatures {
  bool dotprod = false, i8mm = false, fp16 = false;
};
ArmFeatures arm_features();
// Table of an ARM variant ("neon", "dotprod", "i8mm", or its table name), or null: *why says why when the name is an
// ARM variant this CPU lacks, and stays null for a name that is not an ARM variant.
const KernelTable* arm_table(const char* variant, const ArmFeatures& f, const char** why);
const char* arm_best(const ArmFeatures& f);
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

// Repacking into T16 (dst holds t16_bytes(rows, cols)).
void repack_codes(const int8_t* codes, int64_t rows, int64_t cols, uint8_t* dst);
void repack_i2s(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);
void repack_tq2_0(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);
void repack_tq1_0(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst);
// Expand one row of a T16 matrix back to int8 weights (tests, debugging).
void unpack_row(const uint8_t* packed, int64_t cols, int64_t row, int8_t* out);

}  // namespace trine
