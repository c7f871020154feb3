// Shared by every program (prepended by src/programs.ts). Binding 0 is the per-run parameter window: a slice of
// the backend's parameter arena selected by a dynamic offset, read as u32 words (floats bit-cast).
@group(0) @binding(0) var<storage, read> P: array<u32>;

fn pu(i: u32) -> u32 { return P[i]; }
fn pf(i: u32) -> f32 { return bitcast<f32>(P[i]); }
fn pi(i: u32) -> i32 { return bitcast<i32>(P[i]); }

// f32 → f16 bits, round to nearest even (bit-exact with core's f32ToF16; pack2x16float leaves rounding open).
fn f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let ex = i32((b >> 23u) & 0xffu);
  var mant = b & 0x7fffffu;
  if (ex == 0xff) {
    return sign | 0x7c00u | select(0u, 0x200u, mant != 0u);
  }
  let e = ex - 127 + 15;
  if (e >= 0x1f) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    let rest = mant & ((1u << shift) - 1u);
    var h = mant >> shift;
    if (rest > half || (rest == half && (h & 1u) == 1u)) { h = h + 1u; }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (mant >> 13u);
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; }
  return sign | h;
}

// f16 bits (low 16 bits) → f32, exact.
fn f16_value(h: u32) -> f32 {
  return unpack2x16float(h & 0xffffu).x;
}

fn round_f16(x: f32) -> f32 { return f16_value(f16_bits(x)); }

// a / b for positive normal f32 a, b, correctly rounded (nearest even) by integer long division: GPU f32 division
// may be off by an ulp, and the int8 activations must match the reference bit for bit.
fn div_exact(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a);
  let bb = bitcast<u32>(b);
  var ma = (ab & 0x7fffffu) | 0x800000u;
  let mb = (bb & 0x7fffffu) | 0x800000u;
  var e = i32((ab >> 23u) & 0xffu) - i32((bb >> 23u) & 0xffu) + 127;
  if (ma < mb) { ma = ma << 1u; e = e - 1; }
  var rem = ma;
  var q = 0u;
  for (var i = 0u; i < 25u; i = i + 1u) {
    q = q << 1u;
    if (rem >= mb) { rem = rem - mb; q = q | 1u; }
    rem = rem << 1u;
  }
  var m = q >> 1u;
  let guard = q & 1u;
  if (guard == 1u && (rem != 0u || (m & 1u) == 1u)) { m = m + 1u; }
  if (m == 0x1000000u) { m = m >> 1u; e = e + 1; }
  if (e <= 0) { return 0.0; } // below the normal range: never reached by the activation scales
  if (e >= 0xff) { return 0x1.fffffep+127f; } // above the f32 range: never reached either
  return bitcast<f32>((u32(e) << 23u) | (m & 0x7fffffu));
}

// Signed dot product of four packed int8 lanes: the hardware instruction where the adapter has it, else unpacked.
fn dot4(a: u32, b: u32) -> i32 {
//#if DOT4
  return dot4I8Packed(a, b);
//#else
  let x = bitcast<i32>(a);
  let y = bitcast<i32>(b);
  return extractBits(x, 0u, 8u) * extractBits(y, 0u, 8u) + extractBits(x, 8u, 8u) * extractBits(y, 8u, 8u) +
         extractBits(x, 16u, 8u) * extractBits(y, 16u, 8u) + extractBits(x, 24u, 8u) * extractBits(y, 24u, 8u);
//#endif
}

// Ternary weights are stored 16 per u32 as e = w + 2 ∈ {1,2,3}, weight 4j+i of the word at bits [8i+2j, 8i+2j+1].
// Group j's four weights as packed int8: mask the 2-bit fields into bytes, then e − 2 per byte without borrows
// ((e + 126) ^ 0x80 maps 1,2,3 to 0xFF,0,1).
fn ternary4(word: u32, j: u32) -> u32 {
  return (((word >> (2u * j)) & 0x03030303u) + 0x7e7e7e7eu) ^ 0x80808080u;
}
