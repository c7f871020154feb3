// rope (NEOX pairing, in place). cos/sin come from the host per (token, pair), built with the reference's f32
// angle recurrence, because GPU sin/cos are only accurate to about 2^-11 on large arguments.
// TWO: a second tensor (X2, [5] its heads) rotated in the same dispatch (the backend fuses rope(q) + rope(k)).
// P: [0] n, [1] heads, [2] headDim, [3] half (ropeDim / 2), [4] first token, [8 + 2(i·half + j)] cos, sin.
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
//#if TWO
@group(0) @binding(2) var<storage, read_write> X2: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = pu(0u);
  let heads = pu(1u);
  let Dh = pu(2u);
  let half = pu(3u);
  var idx = gid.x;
//#if TWO
  let first = n * heads * half;
  if (idx >= first) {
    idx = idx - first;
    let heads2 = pu(5u);
    if (idx >= n * heads2 * half) { return; }
    let j = idx % half;
    let h = (idx / half) % heads2;
    let i = idx / (half * heads2);
    let c = pf(8u + 2u * (i * half + j));
    let s = pf(9u + 2u * (i * half + j));
    let base = ((pu(4u) + i) * heads2 + h) * Dh;
    let x0 = X2[base + j];
    let x1 = X2[base + j + half];
    X2[base + j] = x0 * c - x1 * s;
    X2[base + j + half] = x0 * s + x1 * c;
    return;
  }
//#endif
  if (idx >= n * heads * half) { return; }
  let j = idx % half;
  let h = (idx / half) % heads;
  let i = idx / (half * heads);
  let c = pf(8u + 2u * (i * half + j));
  let s = pf(9u + 2u * (i * half + j));
  let base = ((pu(4u) + i) * heads + h) * Dh;
  let x0 = X[base + j];
  let x1 = X[base + j + half];
  X[base + j] = x0 * c - x1 * s;
  X[base + j + half] = x0 * s + x1 * c;
}
