#!/usr/bin/env bash
# Cross-compiles native/test/harness.cc for aarch64 (static, Debian's g++-aarch64-linux-gnu) and runs it under
# qemu-aarch64 (Debian's qemu-user) on CPU models with and without SDOT / SMMLA, each ARM variant forced in turn.
# Every kernel of the variant is checked bit for bit against the scalar table; a variant the CPU lacks must be
# reported unavailable by detection (never SIGILL). Prints 'N passed, N failed' and exits non-zero on any failure.
# Each source gets the flags binding.gyp gives it (baseline for the glue-side files, +dotprod / +i8mm for theirs).
set -u
cd "$(dirname "$0")/.."
CXX=${CXX_AARCH64:-aarch64-linux-gnu-g++}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
for tool in "$CXX" "$QEMU"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install g++-aarch64-linux-gnu qemu-user)"; exit 2; }
done
out=build/aarch64
mkdir -p "$out"
flags=(-O3 -std=c++17 -ffp-contract=off -fno-exceptions -Wall -Wextra -Werror)
compile() {  # src obj extra-flags...
  local src=$1 obj=$2; shift 2
  "$CXX" "${flags[@]}" "$@" -c "$src" -o "$out/$obj" || exit 2
}
compile native/generic/f16.cc f16.o
compile native/generic/quantize.cc quantize.o
compile native/generic/repack.cc repack.o
compile native/generic/scalar.cc scalar.o
compile native/generic/float_ops.cc float_ops.o
compile native/arm/detect.cc detect.o
compile native/arm/neon.cc neon.o
compile native/arm/dotprod.cc dotprod.o -march=armv8.2-a+dotprod
compile native/arm/i8mm.cc i8mm.o -march=armv8.2-a+dotprod+i8mm
compile native/test/harness.cc harness.o
"$CXX" -static -o "$out/harness" "$out"/{f16,quantize,repack,scalar,float_ops,detect,neon,dotprod,i8mm,harness}.o || exit 2

# Baseline objects (they run before detection, or on any AArch64 CPU) must hold no SDOT/SMMLA or FP16 arithmetic:
# only dotprod.o and i8mm.o may. The cortex-a53 runs below would also SIGILL on one that slipped through.
OBJDUMP=${OBJDUMP_AARCH64:-aarch64-linux-gnu-objdump}
isa_fail=0
for o in f16 quantize repack scalar float_ops detect neon harness; do
  bad=$("$OBJDUMP" -d --no-show-raw-insn "$out/$o.o" | grep -E $'\t(sdot|udot|usdot|sudot|smmla|ummla|usmmla)\t|\t(fadd|fsub|fmul|fmla|fmls|fdiv|fmax|fmin|fmaxnm|fminnm|fabd)\t.*(\.[48]h|\bh[0-9]+\b)' | head -1)
  if [[ -n "$bad" ]]; then echo "FAIL $o.o uses an extension: $bad"; isa_fail=$((isa_fail + 1)); fi
done
[[ $("$OBJDUMP" -d --no-show-raw-insn "$out/dotprod.o" | grep -c $'\tsdot\t') -gt 0 ]] || { echo "FAIL dotprod.o has no sdot"; isa_fail=$((isa_fail + 1)); }
[[ $("$OBJDUMP" -d --no-show-raw-insn "$out/i8mm.o" | grep -c $'\tsmmla\t') -gt 0 ]] || { echo "FAIL i8mm.o has no smmla"; isa_fail=$((isa_fail + 1)); }
echo "instruction sets: $((10 - isa_fail)) passed, $isa_fail failed"

# CPU model → what detection must report (qemu-aarch64 -cpu help lists the models).
#   cortex-a53: ARMv8.0, no SDOT, no FP16 · cortex-a76: SDOT and FP16, no SMMLA · max: everything QEMU emulates.
models=("cortex-a53 neon=1,dotprod=0,i8mm=0" "cortex-a76 neon=1,dotprod=1,i8mm=0" "max neon=1,dotprod=1,i8mm=1")
pass=$((10 - isa_fail)) fail=$isa_fail crashed=0
for entry in "${models[@]}"; do
  cpu=${entry%% *} expect=${entry#* }
  for variant in neon dotprod i8mm; do
    log=$(TRINE_CPU_VARIANT=$variant "$QEMU" -cpu "$cpu" "$out/harness" --expect "$expect" 2>&1)
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$log" | tail -1)
    if [[ -z "$line" ]]; then
      echo "qemu -cpu $cpu, $variant: no result (exit $rc)"; echo "$log" | tail -5; crashed=$((crashed + 1)); continue
    fi
    grep -E '^(FAIL|detected|variant)' <<<"$log" | sed "s/^/  [$cpu $variant] /" | head -20
    p=${line%% passed*} f=${line#*, }; f=${f%% failed}
    pass=$((pass + p)) fail=$((fail + f))
    echo "qemu -cpu $cpu, TRINE_CPU_VARIANT=$variant: $line"
  done
done
fail=$((fail + crashed))
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
