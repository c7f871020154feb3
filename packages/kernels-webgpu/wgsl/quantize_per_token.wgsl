// quantizeActs, per_token (bitnet.cpp quantize_row_i8_s). One workgroup per row.
// P: [0] K, [1] q words per row (row stride of the padded int8 tensor / 4).
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;

var<workgroup> red: array<f32, 256>;
var<workgroup> red16: array<f32, 16>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x;
  let K = pu(0u);
  let words = pu(1u);
  let xb = row * K;
  var m = 0.0;
  for (var k = t; k < K; k = k + 256u) { m = max(m, abs(X[xb + k])); }
  // Two levels of 16 (two barriers: each costs a lot on CPU emulation, SwiftShader).
  red[t] = m;
  workgroupBarrier();
  if (t < 16u) {
    var v = 0.0;
    for (var i = 0u; i < 16u; i = i + 1u) { v = max(v, red[16u * t + i]); }
    red16[t] = v;
  }
  workgroupBarrier();
  var mx = 0.0;
  for (var i = 0u; i < 16u; i = i + 1u) { mx = max(mx, red16[i]); }
  // s = f32(127 / max(mx, 1e-5)) with 1e-5 a double: every f32 at or below f32(1e-5) is below it.
  var s = 12700000.0;
  if (mx > 1e-5) { s = div_exact(127.0, mx); }
  if (t == 0u) { S[row] = s; }
  for (var w = t; w < words; w = w + 256u) {
    var packed = 0u;
    for (var i = 0u; i < 4u; i = i + 1u) {
      let k = 4u * w + i;
      if (k < K) {
        let v = i32(clamp(round(X[xb + k] * s), -128.0, 127.0));
        packed = packed | ((u32(v) & 0xffu) << (8u * i));
      }
    }
    Q[row * words + w] = packed;
  }
}
