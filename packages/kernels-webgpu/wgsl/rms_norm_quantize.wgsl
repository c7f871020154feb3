// rmsNorm followed by quantizeActs (per_token) of its output, in one dispatch (the backend fuses the pair when the
// quantize reads the norm's output): writes the normalized row O exactly as rms_norm does (same reduction order,
// same products) and its int8 codes Q and scale S exactly as quantize_per_token does. One workgroup per row.
// P: [0] D, [1] eps (f32 bits), [2] q words per row.
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> WT: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<storage, read_write> Q: array<u32>;
@group(0) @binding(5) var<storage, read_write> S: array<f32>;

var<workgroup> red: array<f32, 256>;
var<workgroup> red16: array<f32, 16>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let D = pu(0u);
  let eps = pf(1u);
  let words = pu(2u);
  let row = wg.x;
  let base = row * D;
  var sum = 0.0;
  for (var d = t; d < D; d = d + 256u) { let v = X[base + d]; sum = sum + v * v; }
  red[t] = sum;
  workgroupBarrier();
  if (t < 16u) {
    var s = 0.0;
    for (var i = 0u; i < 16u; i = i + 1u) { s = s + red[16u * t + i]; }
    red16[t] = s;
  }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < 16u; i = i + 1u) { total = total + red16[i]; }
  var mean = 0.0;
  if (total > 0.0) { mean = div_exact(total, f32(D)); }
  let scale = div_exact(1.0, sqrt(mean + eps));
  var m = 0.0;
  for (var d = t; d < D; d = d + 256u) {
    let v = (X[base + d] * scale) * WT[d];
    O[base + d] = v;
    m = max(m, abs(v));
  }
  // The max of |normalized| (order-free), then quantize_per_token's scale and rounding. `red` is free again: its
  // readers finished before the second barrier.
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
  var s = 12700000.0;
  if (mx > 1e-5) { s = div_exact(127.0, mx); }
  if (t == 0u) { S[row] = s; }
  for (var w = t; w < words; w = w + 256u) {
    var packed = 0u;
    for (var i = 0u; i < 4u; i = i + 1u) {
      let k = 4u * w + i;
      if (k < D) {
        // Recomputed (not read back from O): the same product of the same values, so the same f32.
        let v = (X[base + k] * scale) * WT[k];
        let c = i32(clamp(round(v * s), -128.0, 127.0));
        packed = packed | ((u32(c) & 0xffu) << (8u * i));
      }
    }
    Q[row * words + w] = packed;
  }
}
