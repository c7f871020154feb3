// ternaryMatmul(Acc) with per_token activations: one accumulator per (row, output). A workgroup computes 8 outputs,
// 32 lanes each; a lane reads every 32nd packed weight word (16 weights) so the team's loads are coalesced, and
// keeps RT activation rows' accumulators so each weight word is read once per RT rows.
// P: [0] N, [1] weight words per row (Kw), [2] rows, [3] first output of this dispatch.
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> WS: array<f32>;
@group(0) @binding(3) var<storage, read> Q: array<u32>;
@group(0) @binding(4) var<storage, read> AS: array<f32>;
//#if ACC
@group(0) @binding(5) var<storage, read_write> OUT: array<i32>;
//#else
@group(0) @binding(5) var<storage, read_write> OUT: array<f32>;
//#endif

const RT: u32 = ${RT}u;
var<workgroup> red: array<array<i32, RT>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let N = pu(0u);
  let Kw = pu(1u);
  let rows = pu(2u);
  let team = t / 32u;
  let lane = t % 32u;
  let n = pu(3u) + wg.x * 8u + team;
  let Qw = Kw * 4u;
  for (var r0 = 0u; r0 < rows; r0 = r0 + RT) {
    var acc: array<i32, RT>;
    for (var z = 0u; z < RT; z = z + 1u) { acc[z] = 0; } // explicit: SwiftShader kept values across loop iterations
    if (n < N) {
      for (var w = lane; w < Kw; w = w + 32u) {
        let word = W[n * Kw + w];
        for (var j = 0u; j < 4u; j = j + 1u) {
          let t4 = ternary4(word, j);
          for (var r = 0u; r < RT; r = r + 1u) {
            let row = min(r0 + r, rows - 1u);
            acc[r] = acc[r] + dot4(t4, Q[row * Qw + w * 4u + j]);
          }
        }
      }
    }
    red[t] = acc;
    workgroupBarrier();
    // Lane r adds the team's 32 partials of row r0 + r, in lane order, and writes that output: one barrier
    // (barriers cost a lot on CPU emulation) and RT lanes sharing the tail.
    if (lane < RT && n < N) {
      let row = r0 + lane;
      if (row < rows) {
        let base = t - lane;
        var total = 0;
        for (var l = 0u; l < 32u; l = l + 1u) { total = total + red[base + l][lane]; }
//#if ACC
        OUT[row * N + n] = total;
//#else
        OUT[row * N + n] = (f32(total) / AS[row]) * WS[0];
//#endif
      }
    }
    workgroupBarrier();
  }
}
