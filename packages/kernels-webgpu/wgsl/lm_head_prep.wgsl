// lmHead, step 1: gather the selected rows of x into a scratch [count, Dp] (rounded to f16 for f16 / q8 matrices),
// zero-padded to Dp so the matrix kernel can read whole words.
// P: [0] D, [1] Dp, [2] count, [8 + i] selected row.
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> XS: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let D = pu(0u);
  let Dp = pu(1u);
  let idx = gid.x;
  if (idx >= pu(2u) * Dp) { return; }
  let i = idx / Dp;
  let d = idx % Dp;
  var v = 0.0;
  if (d < D) {
    v = X[pu(8u + i) * D + d];
//#if ROUND
    v = round_f16(v);
//#endif
  }
  XS[idx] = v;
}
