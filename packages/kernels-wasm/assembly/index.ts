// Entry of the kernel module: every export is a kernel over byte offsets into the imported memory. The host
// (src/) owns allocation; this module keeps no static data and no heap of its own.
export { f32_to_f16_row, f16_to_f32_row_simd, round_f16_row, round_f16_row_scaled, f16_has_special } from './f16';
export { ternary_prepare, ternary_acc, ternary_matmul_per_token, ternary_matmul_per_block } from './ternary';
export { quantize_per_token, quantize_per_block256 } from './quantize';
export { embedding_f16, embedding_f32, embedding_q8, rms_norm, add, gated_activation, rope, argmax } from './elementwise';
export { kv_store, attention } from './attention';
export { lm_head_f16, lm_head_f16_exact, lm_head_f32, lm_head_q8 } from './lm-head';
export { lut_row_bytes, ternary_lut_tables, ternary_lut_acc, ternary_lut_per_token, ternary_lut_per_block } from './ternary-lut';
