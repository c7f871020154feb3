export * from './f16.js';
export * from './i2s.js';
export * from './tq1_0.js';
export * from './tq2_0.js';
export * from './ternary.js';
