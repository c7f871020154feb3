#!/bin/sh
# Assembles one app's runtime tree from a built workspace: production dependencies only (from the pnpm store,
# offline), dist/, the kernels-cpu addon, the telemetry bootstrap and the health probe.
#   infra/docker/assemble.sh <gateway|worker> <out-dir>      (run from the repository root, after `pnpm build`)
# Used by the Dockerfiles' build stage; it also runs outside Docker (on a scratch clone: it replaces node_modules).
set -eu
app="$1"
out="$2"
case "$app" in gateway|worker) ;; *) echo "usage: $0 <gateway|worker> <out-dir>" >&2; exit 2 ;; esac

# --ignore-scripts keeps the addon built by the full install (packages/kernels-cpu/build/Release) and skips the
# root 'prepare' (turbo is a dev dependency).
find . -name node_modules -type d -prune -exec rm -rf {} +
pnpm install --frozen-lockfile --offline --prod --ignore-scripts --filter "@trine/$app..."

mkdir -p "$out"
cp -a package.json node_modules "$out/"
for d in apps/gateway apps/worker packages/core packages/telemetry packages/serving packages/backends packages/hub proto packages/kernels-cpu packages/kernels-wasm packages/kernels-webgpu; do
  if [ ! -d "$d" ]; then continue; fi
  mkdir -p "$out/$d"
  cp -a "$d/package.json" "$out/$d/"
  # proto/trine: the .proto files the gateway's reflection service loads; apps/gateway/web: the web chat's files;
  # packages/core/assets: the embedded default model.
  for x in dist node_modules trine web assets; do
    if [ -e "$d/$x" ]; then cp -a "$d/$x" "$out/$d/"; fi
  done
done
mkdir -p "$out/packages/kernels-cpu/build/Release" "$out/apps/$app/src/otel"
cp packages/kernels-cpu/build/Release/*.node "$out/packages/kernels-cpu/build/Release/"
cp "apps/$app/src/otel/register.mjs" "$out/apps/$app/src/otel/"
cp infra/docker/healthcheck.mjs "$out/apps/$app/healthcheck.mjs"
