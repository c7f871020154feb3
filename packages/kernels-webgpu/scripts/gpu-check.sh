#!/usr/bin/env bash
# The WebGPU backend on a real GPU, in one go (≈ 6 minutes at most): adapter info, the conformance kit, and
# decode tokens/s (batch 1) and aggregate tokens/s (batch 32) on a 2B4T-shaped random I2_S model. Ends with one
# line `GPU_CHECK_JSON {...}`; exits non-zero when a conformance case or the benchmark fails.
#
#   packages/kernels-webgpu/scripts/gpu-check.sh            # real GPU (Dawn on Vulkan)
#   packages/kernels-webgpu/scripts/gpu-check.sh --tiny     # toy shape; SwiftShader when no Vulkan driver is set
#
# Needs `node` (20+) on PATH, NODE=/path/to/node, or gpu-check/node.gz (build with --with-node), and the bundle folder packages/kernels-webgpu/gpu-check
# (built here by `node packages/kernels-webgpu/scripts/build-gpu-check.mjs`; it is rebuilt when missing and the
# workspace's node_modules exist).
set -euo pipefail
pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="${NODE:-node}"
if ! command -v "$NODE" >/dev/null 2>&1 && [ -f "$pkg/gpu-check/node.gz" ]; then
  # The node binary packed by `build-gpu-check.mjs --with-node` (official Linux x64 build: glibc only).
  nodedir="$(mktemp -d)"
  gzip -dc "$pkg/gpu-check/node.gz" > "$nodedir/node"
  chmod +x "$nodedir/node"
  NODE="$nodedir/node"
fi
if ! command -v "$NODE" >/dev/null 2>&1; then
  echo "gpu-check: no node binary (put node 20+ on PATH or set NODE=/path/to/node)" >&2
  exit 3
fi
if [ ! -f "$pkg/gpu-check/gpu-check.mjs" ]; then
  if [ -d "$pkg/node_modules/esbuild" ]; then
    "$NODE" "$pkg/scripts/build-gpu-check.mjs"
  else
    echo "gpu-check: $pkg/gpu-check is missing; build it with scripts/build-gpu-check.mjs where node_modules exist" >&2
    exit 3
  fi
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR}" ]; then
  XDG_RUNTIME_DIR="$(mktemp -d)"
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
fi
for a in "$@"; do
  if [ "$a" = "--tiny" ] && [ -z "${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia* >/dev/null 2>&1 && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
    export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  fi
done
# Dawn needs the Vulkan loader; use the one packed beside the bundle where the system has none.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && [ -f "$pkg/gpu-check/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$pkg/gpu-check/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
echo "gpu-check: Vulkan ICDs: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | tr '\n' ' ')"
echo "gpu-check: node $("$NODE" --version), $(uname -m), VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-<system>}"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# The full log and the JSON also go to $OUT (the device runner's folder) when it is set.
logdir="${OUT:-$(mktemp -d)}"
set +e
timeout 390 "$NODE" --expose-gc "$pkg/gpu-check/gpu-check.mjs" "$@" 2>&1 | tee "$logdir/gpu-check.log"
rc=${PIPESTATUS[0]}
grep '^GPU_CHECK_JSON ' "$logdir/gpu-check.log" | sed 's/^GPU_CHECK_JSON //' > "$logdir/gpu-check.json"
echo "gpu-check: exit $rc; log and JSON in $logdir"
exit "$rc"
