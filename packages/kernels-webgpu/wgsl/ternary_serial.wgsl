// ternaryMatmul(Acc), one invocation per output and no workgroup memory: the layout for CPU emulators
// (SwiftShader), where each workgroup barrier costs milliseconds. Same packed layouts and arithmetic as
// ternary_per_token / ternary_per_block256 (BLOCK: per_block256 groups, summed in block order).
// P: [0] N, [1] Kw, [2] rows, [3] first output, [4] 1 if weight scales are per block256 else 0.
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

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let N = pu(0u);
  let Kw = pu(1u);
  let rows = pu(2u);
  let n = pu(3u) + gid.x;
  if (n >= N) { return; }
  let Qw = Kw * 4u;
//#if BLOCK
  let G = Kw / 16u;
  let blockScales = pu(4u) == 1u;
//#else
  let G = 1u;
//#endif
  let span = Kw / G;
  for (var r0 = 0u; r0 < rows; r0 = r0 + RT) {
    var y: array<f32, RT>;
    for (var z = 0u; z < RT; z = z + 1u) { y[z] = 0.0; }
    for (var g = 0u; g < G; g = g + 1u) {
      var acc: array<i32, RT>;
      for (var z = 0u; z < RT; z = z + 1u) { acc[z] = 0; }
      for (var w = g * span; w < (g + 1u) * span; w = w + 1u) {
        let word = W[n * Kw + w];
        for (var j = 0u; j < 4u; j = j + 1u) {
          let t4 = ternary4(word, j);
          for (var r = 0u; r < RT; r = r + 1u) {
            let row = min(r0 + r, rows - 1u);
            acc[r] = acc[r] + dot4(t4, Q[row * Qw + w * 4u + j]);
          }
        }
      }
      for (var r = 0u; r < RT; r = r + 1u) {
        let row = r0 + r;
        if (row < rows) {
//#if ACC
          OUT[(row * N + n) * G + g] = acc[r];
//#elif BLOCK
          let dw = select(WS[0], WS[n * G + g], blockScales);
          y[r] = y[r] + f32(acc[r]) * (dw * AS[row * G + g]);
//#else
          y[r] = (f32(acc[r]) / AS[row]) * WS[0];
//#endif
        }
      }
    }
//#if !ACC
    for (var r = 0u; r < RT; r = r + 1u) {
      if (r0 + r < rows) { OUT[(r0 + r) * N + n] = y[r]; }
    }
//#endif
  }
}
