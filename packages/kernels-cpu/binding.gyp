# The addon is built from source by `pnpm install` (scripts/gyp-rebuild.cjs). The glue and the scalar path are
# compiled with the architecture's baseline flags; each SIMD path is its own static library with its own flags, so
# no AVX-512 (or AVX2) instruction can reach code that runs before the CPU has been checked.
{
  "target_defaults": {
    "cflags!": ["-O2", "-O0"],
    "cflags_cc!": ["-O2", "-O0", "-fno-exceptions", "-std=gnu++17"],
    "cflags": ["-O3", "-fPIC", "-ffp-contract=off"],
    "cflags_cc": ["-O3", "-fPIC", "-std=c++17", "-ffp-contract=off", "-fno-exceptions"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"]
  },
  "targets": [
    {
      "target_name": "kernels_cpu",
      "sources": [
        "native/addon.cc",
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
        ["target_arch=='arm64'", { "dependencies": ["kernels_neon"] }]
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
          "target_name": "kernels_neon",
          "type": "static_library",
          "sources": ["native/arm/neon.cc"],
          "cflags_cc": ["-march=armv8.2-a+dotprod"]
        }
      ]
    }]
  ]
}
