// argmax: index of the first maximum of each logits row, one workgroup per row (NaN never wins).
// P: [0] V.
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<i32>;

var<workgroup> rv: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
var<workgroup> rv16: array<f32, 16>;
var<workgroup> ri16: array<u32, 16>;

// Larger value wins, equal values go to the lower index.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool { return v > bv || (v == bv && i < bi); }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let V = pu(0u);
  let base = wg.x * V;
  var best = -0x1.fffffep+127f;
  var bi = 0u;
  var found = false;
  for (var v = t; v < V; v = v + 256u) {
    let x = L[base + v];
    // Only values above −inf count (NaN and −inf never win), checked on the bits so no fast-math can fold it.
    let bits = bitcast<u32>(x);
    let candidate = (bits & 0x7fffffffu) <= 0x7f800000u && bits != 0xff800000u;
    if (candidate && (!found || x > best)) { best = x; bi = v; found = true; }
  }
  // A lane that saw nothing above −inf must not win a tie at −inf with a made-up index.
  rv[t] = best;
  ri[t] = select(0xffffffffu, bi, found);
  workgroupBarrier();
  // Two levels of 16 (two barriers: each costs a lot on CPU emulation, SwiftShader).
  if (t < 16u) {
    var bv = rv[16u * t];
    var bi = ri[16u * t];
    for (var i = 1u; i < 16u; i = i + 1u) {
      if (better(rv[16u * t + i], ri[16u * t + i], bv, bi)) { bv = rv[16u * t + i]; bi = ri[16u * t + i]; }
    }
    rv16[t] = bv;
    ri16[t] = bi;
  }
  workgroupBarrier();
  var bestV = rv16[0];
  var bestI = ri16[0];
  for (var i = 1u; i < 16u; i = i + 1u) {
    if (better(rv16[i], ri16[i], bestV, bestI)) { bestV = rv16[i]; bestI = ri16[i]; }
  }
  if (t == 0u) { O[wg.x] = i32(select(0u, bestI, bestI != 0xffffffffu)); }
}
