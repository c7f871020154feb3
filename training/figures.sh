#!/bin/sh
# The figures of training/README.md for a model file: held-out perplexity on every backend, f16 vs q8 LM head,
# f16 vs f32 KV cache, the TQ2_0 export, and three samples at temperature 0.7. Writes training/run/figures.txt.
#   training/figures.sh [MODEL] [TQ2_0-MODEL]
# TRINE overrides the CLI command (default: the built CLI, node apps/cli/dist/main.js).
set -e
cd "$(dirname "$0")/.."
MODEL=${1:-packages/core/assets/trine-default.gguf}
TQ2=${2:-training/run/model-tq2.gguf}
TRINE=${TRINE:-node apps/cli/dist/main.js}
OUT=training/run/figures.txt
TEST=training/data/test.txt
# The reference and WebGPU-on-SwiftShader backends run at a few to tens of tokens per second here: they score the
# first 2 windows of 256 tokens (2 kB of the held-out text), as do the others for the comparison.
HEAD=training/run/test-head.txt
head -c 2000 "$TEST" > "$HEAD"
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
: > "$OUT"
ppl() { m=$1; shift; echo "## perplexity $m $*" >> "$OUT"; $TRINE perplexity --model "$m" --ctx 256 "$@" >> "$OUT" 2>&1 || echo "failed: $*" >> "$OUT"; }
for b in reference cpu wasm webgpu; do ppl "$MODEL" --text "$HEAD" --backend $b; done
for b in cpu wasm; do ppl "$MODEL" --text "$TEST" --backend $b; done
ppl "$MODEL" --text "$TEST" --backend cpu --lm-head q8
ppl "$MODEL" --text "$TEST" --backend cpu --kv f32
ppl "$TQ2" --text "$TEST" --backend cpu
for p in "The old man" "And the LORD said unto Moses" "In the city of New York"; do
  echo "## sample (temperature 0.7, seed 1): $p" >> "$OUT"
  $TRINE generate --model "$MODEL" --prompt "$p" --max-tokens 48 --temperature 0.7 --seed 1 --backend cpu >> "$OUT" 2>&1
  echo >> "$OUT"
done
cat "$OUT"
