// Repacking ternary matrices from their file formats into T16 (common.h), straight from the raw bytes, 16 rows at a time, so
// no int8 copy of a whole matrix is ever made. Each source format's layout is described where it is decoded.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../common.h"

namespace trine {

namespace {

// Packs a matrix whose rows are produced one at a time as codes (w + 1 ∈ {0,1,2}, length cols) by
// decode_row(r, codes). Sixteen rows are decoded, then written as that group's tiles (padding gets code 1).
template <typename DecodeRow>
void pack_matrix(int64_t rows, int64_t cols, uint8_t* dst, DecodeRow decode_row) {
  const int64_t kp = padded_cols(cols);
  const int64_t groups = padded_rows(rows) / kTileRows;
  std::vector<uint8_t> codes(static_cast<size_t>(kTileRows * kp));
  for (int64_t gi = 0; gi < groups; gi++) {
    std::fill(codes.begin(), codes.end(), uint8_t{1});
    for (int i = 0; i < kTileRows && gi * kTileRows + i < rows; i++) decode_row(gi * kTileRows + i, codes.data() + i * kp);
    uint8_t* out = dst + gi * (kTileRows * kp / 4);
    for (int64_t k0 = 0; k0 < kp; k0 += kTileCols, out += kTileBytes)
      for (int i = 0; i < kTileRows; i++)
        for (int b = 0; b < 4; b++) {
          uint8_t byte = 0;
          for (int s = 0; s < 4; s++) byte |= static_cast<uint8_t>(codes[i * kp + k0 + 4 * s + b] << (2 * s));
          out[4 * i + b] = byte;
        }
  }
}

}  // namespace

void repack_codes(const int8_t* codes, int64_t rows, int64_t cols, uint8_t* dst) {
  pack_matrix(rows, cols, dst, [&](int64_t r, uint8_t* row) {
    for (int64_t c = 0; c < cols; c++) row[c] = static_cast<uint8_t>(codes[r * cols + c] + 1);
  });
}

// I2_S (bitnet.cpp x86): the tensor as one row-major array cut into 128-weight blocks of 32 bytes; byte k holds
// weight k in bits 7-6, k+32 in 5-4, k+64 in 3-2, k+96 in 1-0; code 0 → -1, 1 → 0, 2 → +1, 3 → 0.
void repack_i2s(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  // Straight from I2_S to T16, without a row of codes in between (this runs over every weight at load): the 16
  // columns of a tile lie in one 32-column group of one 128-block, so they are 16 consecutive source bytes read
  // at the same bit position.
  static const uint8_t kI2sToCode[4] = {0, 1, 2, 1};
  const int64_t kp = padded_cols(cols);
  const int64_t groups = padded_rows(rows) / kTileRows;
  const int64_t full_tiles = cols / kTileCols;  // I2_S needs cols % 128 == 0, so no tile straddles the end of K
  for (int64_t gi = 0; gi < groups; gi++) {
    uint8_t* out = dst + gi * (kTileRows * kp / 4);
    for (int64_t t = 0; t < kp / kTileCols; t++) {
      uint8_t* tile = out + t * kTileBytes;
      const int64_t k0 = t * kTileCols;
      const int shift = 6 - 2 * static_cast<int>((k0 % 128) / 32);
      for (int i = 0; i < kTileRows; i++) {
        const int64_t r = gi * kTileRows + i;
        if (r >= rows || t >= full_tiles) {
          for (int b = 0; b < 4; b++) tile[4 * i + b] = 0x55;  // padding: code 1 (weight 0) in all four fields
          continue;
        }
        const uint8_t* s = src + r * (cols / 4) + (k0 / 128) * 32 + (k0 % 32);
        for (int b = 0; b < 4; b++) {
          uint8_t byte = 0;
          for (int q = 0; q < 4; q++) byte |= static_cast<uint8_t>(kI2sToCode[(s[4 * q + b] >> shift) & 3] << (2 * q));
          tile[4 * i + b] = byte;
        }
      }
    }
  }
}

// TQ2_0 (llama.cpp): per 256 weights 66 bytes = qs[64] then an f16 scale. In each 32-byte half c, byte m holds
// weight c·128 + l·32 + m at bits 2l..2l+1 (l = 0..3), code = w + 1 (3 reads as 0 weight).
void repack_tq2_0(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const int64_t nb = cols / 256;
  pack_matrix(rows, cols, dst, [&](int64_t r, uint8_t* row) {
    for (int64_t b = 0; b < nb; b++) {
      const uint8_t* qs = src + (r * nb + b) * 66;
      for (int c = 0; c < 2; c++)
        for (int l = 0; l < 4; l++)
          for (int m = 0; m < 32; m++) {
            const uint8_t code = (qs[c * 32 + m] >> (2 * l)) & 3;
            row[b * 256 + c * 128 + l * 32 + m] = code == 3 ? 1 : code;
          }
    }
  });
}

// TQ1_0 (llama.cpp): per 256 weights 54 bytes = qs[48], qh[4], f16 scale. Base-3 fixed point: the n-th trit of a
// byte q is ((uint8)(q·3^n) · 3) >> 8. Order (ggml dequantize_row_tq1_0): qs[0..32) × 5 trits (n outer, byte
// inner), then qs[32..48) × 5 trits, then qh[0..4) × 4 trits; each trit is w + 1.
void repack_tq1_0(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  static const uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
  const int64_t nb = cols / 256;
  auto trit = [](uint8_t q, uint8_t p) {
    return static_cast<uint8_t>((static_cast<uint16_t>(static_cast<uint8_t>(q * p)) * 3) >> 8);
  };
  pack_matrix(rows, cols, dst, [&](int64_t r, uint8_t* row) {
    for (int64_t b = 0; b < nb; b++) {
      const uint8_t* blk = src + (r * nb + b) * 54;
      uint8_t* o = row + b * 256;
      int i = 0;
      for (int n = 0; n < 5; n++)
        for (int m = 0; m < 32; m++) o[i++] = trit(blk[m], kPow3[n]);
      for (int n = 0; n < 5; n++)
        for (int m = 0; m < 16; m++) o[i++] = trit(blk[32 + m], kPow3[n]);
      for (int n = 0; n < 4; n++)
        for (int m = 0; m < 4; m++) o[i++] = trit(blk[48 + m], kPow3[n]);
    }
  });
}

void unpack_row(const uint8_t* packed, int64_t cols, int64_t row, int8_t* out) {
  const int64_t kp = padded_cols(cols);
  const uint8_t* group = packed + (row / kTileRows) * (kTileRows * kp / 4);
  const int i = static_cast<int>(row % kTileRows);
  for (int64_t c = 0; c < cols; c++) {
    const int64_t k0 = c / kTileCols * kTileCols;
    const int s = static_cast<int>((c - k0) / 4), b = static_cast<int>((c - k0) % 4);
    const uint8_t byte = group[(k0 / kTileCols) * kTileBytes + 4 * i + b];
    out[c] = static_cast<int8_t>(((byte >> (2 * s)) & 3) - 1);
  }
}

}  // namespace trine
