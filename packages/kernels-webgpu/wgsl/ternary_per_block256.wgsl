// ternaryMatmul(Acc) with per_block256 activations: one integer accumulator per (row, output, 256-block). A
// workgroup computes 8 outputs, 32 lanes each; a lane takes every 32nd block (16 weight words).
// ACC writes the accumulators; otherwise y = Σ_g f32(acc_g · f32(d_w,g · d_a,g)), lanes summed by a tree.
// P: [0] N, [1] Kw, [2] rows, [3] first output, [4] 1 if weight scales are per block256 else 0.
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> WS: array<f32>;
@group(0) @binding(3) var<storage, read> Q: array<u32>;
@group(0) @binding(4) var<storage, read> AS: array<f32>;
//#if ACC
@group(0) @binding(5) var<storage, read_write> OUT: array<i32>;
//#else
@group(0) @binding(5) var<storage, read_write> OUT: array<f32>;
var<workgroup> red: array<array<f32, RT>, 256>;
//#endif

const RT: u32 = ${RT}u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let N = pu(0u);
  let Kw = pu(1u);
  let rows = pu(2u);
  let blockScales = pu(4u) == 1u;
  let team = t / 32u;
  let lane = t % 32u;
  let n = pu(3u) + wg.x * 8u + team;
  let Qw = Kw * 4u;
  let G = Kw / 16u;
  for (var r0 = 0u; r0 < rows; r0 = r0 + RT) {
    var y: array<f32, RT>;
    for (var z = 0u; z < RT; z = z + 1u) { y[z] = 0.0; } // explicit: SwiftShader kept values across loop iterations
    if (n < N) {
      for (var g = lane; g < G; g = g + 32u) {
        var acc: array<i32, RT>;
    for (var z = 0u; z < RT; z = z + 1u) { acc[z] = 0; } // explicit: SwiftShader kept values across loop iterations
        for (var w = g * 16u; w < g * 16u + 16u; w = w + 1u) {
          let word = W[n * Kw + w];
          for (var j = 0u; j < 4u; j = j + 1u) {
            let t4 = ternary4(word, j);
            for (var r = 0u; r < RT; r = r + 1u) {
              let row = min(r0 + r, rows - 1u);
              acc[r] = acc[r] + dot4(t4, Q[row * Qw + w * 4u + j]);
            }
          }
        }
        let dw = select(WS[0], WS[n * G + g], blockScales);
        for (var r = 0u; r < RT; r = r + 1u) {
          let row = r0 + r;
          if (row < rows) {
//#if ACC
            OUT[(row * N + n) * G + g] = acc[r];
//#else
            y[r] = y[r] + f32(acc[r]) * (dw * AS[row * G + g]);
//#endif
          }
        }
      }
    }
//#if !ACC
    red[t] = y;
    workgroupBarrier();
    // Lane r adds the team's 32 partials of row r0 + r in lane order, which is block order while K ≤ 8192
    // (one block per lane), and writes that output: one barrier, RT lanes sharing the tail.
    if (lane < RT && n < N && r0 + lane < rows) {
      let base = t - lane;
      var total = 0.0;
      for (var l = 0u; l < 32u; l = l + 1u) { total = total + red[base + l][lane]; }
      OUT[(r0 + lane) * N + n] = total;
    }
    workgroupBarrier();
//#endif
  }
}
