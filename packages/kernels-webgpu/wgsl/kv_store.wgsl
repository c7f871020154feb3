// kvStore: k, v rows [n, E = Hkv·Dh] into this layer's cache [slots, context, E] at (slot_i, position_i).
// HALF: the cache holds f16 bit pairs in u32 (one invocation per pair), rounded to nearest even.
// P: [0] n, [1] E, [2] context, [3] slots, [8 + 2i] position, [9 + 2i] slot.
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
//#if HALF
@group(0) @binding(3) var<storage, read_write> KC: array<u32>;
@group(0) @binding(4) var<storage, read_write> VC: array<u32>;
//#else
@group(0) @binding(3) var<storage, read_write> KC: array<f32>;
@group(0) @binding(4) var<storage, read_write> VC: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = pu(0u);
  let E = pu(1u);
  let context = pu(2u);
//#if HALF
  let per = E / 2u;
//#else
  let per = E;
//#endif
  let idx = gid.x;
  if (idx >= n * per) { return; }
  let i = idx / per;
  let e = idx % per;
  let pos = pu(8u + 2u * i);
  let slot = pu(9u + 2u * i);
  if (pos >= context || slot >= pu(3u)) { return; }
//#if HALF
  let dst = ((slot * context + pos) * E) / 2u + e;
  let src = i * E + 2u * e;
  KC[dst] = f16_bits(K[src]) | (f16_bits(K[src + 1u]) << 16u);
  VC[dst] = f16_bits(V[src]) | (f16_bits(V[src + 1u]) << 16u);
//#else
  let dst = (slot * context + pos) * E + e;
  KC[dst] = K[i * E + e];
  VC[dst] = V[i * E + e];
//#endif
}
