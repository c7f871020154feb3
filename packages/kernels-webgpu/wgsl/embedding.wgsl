// embedding: out[i,:] = f32(table[ids[i],:]) for the ids that fall in this chunk of table rows.
// FORMAT f32, f16 (u32 pairs) or q8 (4 int8 per u32 and a row scale: f32(q · scale)).
// P: [0] D, [1] n, [2] first table row of the chunk, [3] chunk rows, [4] words per table row, [8 + i] id.
@group(0) @binding(1) var<storage, read> M: array<u32>;
@group(0) @binding(2) var<storage, read> MS: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let D = pu(0u);
  let idx = gid.x;
  if (idx >= pu(1u) * D) { return; }
  let i = idx / D;
  let d = idx % D;
  let id = pu(8u + i);
  let first = pu(2u);
  if (id < first || id - first >= pu(3u)) { return; }
  let row = id - first;
  let words = pu(4u);
//#if F32
  O[idx] = bitcast<f32>(M[row * words + d]);
//#elif F16
  let pair = unpack2x16float(M[row * words + d / 2u]);
  O[idx] = select(pair.x, pair.y, (d & 1u) == 1u);
//#else
  let q = extractBits(bitcast<i32>(M[row * words + d / 4u]), 8u * (d % 4u), 8u);
  O[idx] = f32(q) * MS[row];
//#endif
}
