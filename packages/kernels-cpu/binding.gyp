# The addon is built from source by `pnpm install` (scripts/gyp-rebuild.cjs). The glue and the scalar path are
# compiled with the architecture's baseline flags; each SIMD path is its own static library with its own flags, so
# no AVX-512 (or AVX2) instruction can reach code that runs before the CPU has been checked. Sources are picked by
# target_arch: x86 files and flags only on x64; on arm64 the plain NEON path (baseline AArch64) and the detection
# build with the glue, SDOT and SMMLA each in their own library.
{
  "target_defaults": {
    "cflags!": ["-O2", "-O0"],
    "cflags_cc!": ["-O2", "-O0", "-fno-exceptions", "-std=gnu++17"],
    "cflags": ["-O3", "-fPIC", "-ffp-contract=off"],
    "cflags_cc": ["-O3", "-fPIC", "-std=c++17", "-ffp-contract=off", "-fno-exceptions"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    # macOS builds take xcode_settings, not cflags: without -ffp-contract=off clang fuses a*b+c into FMAs and the
    # SIMD paths would no longer match the scalar one bit for bit.
    "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-ffp-contract=off"] }
  },
  "targets": [
    {
      "target_name": "kernels_cpu",
      "sources": [
        "native/addon.cc",
        "native/glue/args.cc",
        "native/glue/add.cc",
        "native/glue/argmax.cc",
        "native/glue/attention.cc",
        "native/glue/embedding.cc",
        "native/glue/gated_activation.cc",
        "native/glue/host.cc",
        "native/glue/kv_store.cc",
        "native/glue/lm_head.cc",
        "native/glue/memory.cc",
        "native/glue/quantize.cc",
        "native/glue/quantize_q8.cc",
        "native/glue/read_bandwidth.cc",
        "native/glue/repack.cc",
        "native/glue/rms_norm.cc",
        "native/glue/rope.cc",
        "native/glue/ternary_matmul.cc",
        "native/pool.cc",
        "native/generic/f16.cc",
        "native/generic/quantize.cc",
        "native/generic/repack.cc",
        "native/generic/scalar.cc",
        "native/generic/float_ops.cc"
      ],
      "libraries": ["-lpthread"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["kernels_avx2", "kernels_avx512"] }],
        ["target_arch=='arm64'", {
          "sources": ["native/arm/detect.cc", "native/arm/neon.cc"],
          "dependencies": ["kernels_neon_dotprod", "kernels_neon_i8mm"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "kernels_avx2",
          "type": "static_library",
          "sources": ["native/x86/avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"]
        },
        {
          "target_name": "kernels_avx512",
          "type": "static_library",
          "sources": ["native/x86/avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mfma", "-mf16c",
                        "-Wno-uninitialized", "-Wno-maybe-uninitialized"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "kernels_neon_dotprod",
          "type": "static_library",
          "sources": ["native/arm/dotprod.cc"],
          "cflags_cc": ["-march=armv8.2-a+dotprod"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["$(inherited)", "-march=armv8.2-a+dotprod"] }
        },
        {
          "target_name": "kernels_neon_i8mm",
          "type": "static_library",
          "sources": ["native/arm/i8mm.cc"],
          "cflags_cc": ["-march=armv8.2-a+dotprod+i8mm"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["$(inherited)", "-march=armv8.2-a+dotprod+i8mm"] }
        }
      ]
    }]
  ]
}
