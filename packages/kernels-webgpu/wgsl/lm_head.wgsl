// lmHead, step 2: out[i, v] = matrix[v,:] · xs[i,:] for RT gathered rows over one chunk of matrix rows. A workgroup
// computes 8 vocabulary rows, 32 lanes each reading every 32nd word (coalesced): FORMAT f32 (1 value), f16 (2 halves
// per u32) or q8 (4 int8 per u32, times the row scale).
// P: [0] D, [1] Dp, [2] chunk rows, [3] first vocabulary row of the chunk, [4] V (out row stride), [5] first out row,
//    [6] words per matrix row, [7] first chunk row of this dispatch.
@group(0) @binding(1) var<storage, read> M: array<u32>;
@group(0) @binding(2) var<storage, read> MS: array<f32>;
@group(0) @binding(3) var<storage, read> XS: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;

const RT: u32 = ${RT}u;
var<workgroup> red: array<array<f32, RT>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let Dp = pu(1u);
  let rowsInChunk = pu(2u);
  let words = pu(6u);
  let team = t / 32u;
  let lane = t % 32u;
  let v = pu(7u) + wg.x * 8u + team;
  var acc: array<f32, RT>;
    for (var z = 0u; z < RT; z = z + 1u) { acc[z] = 0.0; } // explicit: SwiftShader kept values across loop iterations
  if (v < rowsInChunk) {
    for (var w = lane; w < words; w = w + 32u) {
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
  }
  red[t] = acc;
  workgroupBarrier();
  // Lane r adds the team's 32 partials of gathered row r and writes it: one barrier, RT lanes sharing the tail.
  if (lane < RT && v < rowsInChunk) {
    let base = t - lane;
    var total = 0.0;
    for (var l = 0u; l < 32u; l = l + 1u) { total = total + red[base + l][lane]; }
//#if Q8
    total = total * MS[v];
//#endif
    O[(pu(5u) + lane) * pu(4u) + pu(3u) + v] = total;
  }
}
