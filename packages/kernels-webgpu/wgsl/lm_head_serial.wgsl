// lmHead step 2, one invocation per vocabulary row and no workgroup memory: the layout for CPU emulators
// (SwiftShader). Same parameters and formats as lm_head.wgsl.
@group(0) @binding(1) var<storage, read> M: array<u32>;
@group(0) @binding(2) var<storage, read> MS: array<f32>;
@group(0) @binding(3) var<storage, read> XS: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;

const RT: u32 = ${RT}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let Dp = pu(1u);
  let words = pu(6u);
  let v = pu(7u) + gid.x;
  if (v >= pu(2u)) { return; }
  var acc: array<f32, RT>;
  for (var z = 0u; z < RT; z = z + 1u) { acc[z] = 0.0; }
  for (var w = 0u; w < words; w = w + 1u) {
    let m = M[v * words + w];
//#if F32
    let x0 = bitcast<f32>(m);
    for (var r = 0u; r < RT; r = r + 1u) { acc[r] = acc[r] + x0 * XS[r * Dp + w]; }
//#elif F16
    let pair = unpack2x16float(m);
    for (var r = 0u; r < RT; r = r + 1u) {
      acc[r] = acc[r] + pair.x * XS[r * Dp + 2u * w] + pair.y * XS[r * Dp + 2u * w + 1u];
    }
//#else
    let mi = bitcast<i32>(m);
    let q = vec4<f32>(f32(extractBits(mi, 0u, 8u)), f32(extractBits(mi, 8u, 8u)), f32(extractBits(mi, 16u, 8u)), f32(extractBits(mi, 24u, 8u)));
    for (var r = 0u; r < RT; r = r + 1u) {
      let xb = r * Dp + 4u * w;
      acc[r] = acc[r] + dot(q, vec4<f32>(XS[xb], XS[xb + 1u], XS[xb + 2u], XS[xb + 3u]));
    }
//#endif
  }
  let V = pu(4u);
  let vo = pu(3u) + v;
  for (var r = 0u; r < RT; r = r + 1u) {
//#if Q8
    O[(pu(5u) + r) * V + vo] = acc[r] * MS[v];
//#else
    O[(pu(5u) + r) * V + vo] = acc[r];
//#endif
  }
}
