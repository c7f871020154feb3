// rope (NEOX pairing, in place). cos/sin come from the host per (token, pair), built with the reference's f32
// angle recurrence, because GPU sin/cos are only accurate to about 2^-11 on large arguments.
// P: [0] n, [1] heads, [2] headDim, [3] half (ropeDim / 2), [4] first token, [8 + 2(i·half + j)] cos, sin.
@group(0) @binding(1) var<storage, read_write> X: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = pu(0u);
  let heads = pu(1u);
  let Dh = pu(2u);
  let half = pu(3u);
  let idx = gid.x;
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
