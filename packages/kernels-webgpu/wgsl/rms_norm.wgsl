// rmsNorm: out = x / sqrt(mean(x²) + eps) · weight, one workgroup per row. IN_PLACE: out aliases x.
// P: [0] D, [1] eps (f32 bits).
//#if IN_PLACE
@group(0) @binding(1) var<storage, read> WT: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
fn ld(i: u32) -> f32 { return O[i]; }
//#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> WT: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
fn ld(i: u32) -> f32 { return X[i]; }
//#endif

var<workgroup> red: array<f32, 256>;
var<workgroup> red16: array<f32, 16>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let D = pu(0u);
  let eps = pf(1u);
  let base = wg.x * D;
  var sum = 0.0;
  for (var d = t; d < D; d = d + 256u) { let v = ld(base + d); sum = sum + v * v; }
  // Two levels of 16 (two barriers: each costs a lot on CPU emulation, SwiftShader).
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
  // Correctly rounded divisions (GPU division is 2.5 ulp): one ulp in the scale can flip an int8 activation.
  var mean = 0.0;
  if (total > 0.0) { mean = div_exact(total, f32(D)); }
  let scale = div_exact(1.0, sqrt(mean + eps));
  for (var d = t; d < D; d = d + 256u) { O[base + d] = (ld(base + d) * scale) * WT[d]; }
}
