// gatedActivation: out = act(gate) · up, act = relu(x)² (RELU2) or silu. IN_PLACE: out aliases gate.
// P: [0] count, [1] invocations per dispatch row.
//#if IN_PLACE
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
fn ldg(i: u32) -> f32 { return O[i]; }
//#else
@group(0) @binding(1) var<storage, read> GT: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
fn ldg(i: u32) -> f32 { return GT[i]; }
//#endif

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * pu(1u) + gid.x;
  if (i >= pu(0u)) { return; }
  let x = ldg(i);
//#if RELU2
  let a = select(0.0, x * x, x > 0.0);
//#else
  // f32(x / f32(1 + exp(−x))) with a correctly rounded division (GPU division is 2.5 ulp).
  let den = 1.0 + exp(-x);
  var a = 0.0;
  if (abs(x) >= 1.17549435e-38 && den < 0x1.fffffep+127f) {
    a = div_exact(abs(x), den);
    if (x < 0.0) { a = -a; }
  }
//#endif
  O[i] = a * U[i];
}
