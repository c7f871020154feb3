// add: out = a + b over `count` elements. OUT_IS_A / OUT_IS_B: out aliases that input (bound once, read-write).
// P: [0] count, [1] invocations per dispatch row (x workgroups · 256).
//#if OUT_IS_A
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
fn lda(i: u32) -> f32 { return O[i]; }
fn ldb(i: u32) -> f32 { return B[i]; }
//#elif OUT_IS_B
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
fn lda(i: u32) -> f32 { return A[i]; }
fn ldb(i: u32) -> f32 { return O[i]; }
//#elif OUT_IS_AB
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
fn lda(i: u32) -> f32 { return O[i]; }
fn ldb(i: u32) -> f32 { return O[i]; }
//#else
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
fn lda(i: u32) -> f32 { return A[i]; }
fn ldb(i: u32) -> f32 { return B[i]; }
//#endif

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * pu(1u) + gid.x;
  if (i < pu(0u)) { O[i] = lda(i) + ldb(i); }
}
