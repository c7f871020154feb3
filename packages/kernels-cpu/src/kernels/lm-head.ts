import { FORMAT, type CpuContext } from '../context.js';
import type { CpuMatrix, CpuTensor } from '../handles.js';

export function lmHead(c: CpuContext, out: CpuTensor, x: CpuTensor, matrix: CpuMatrix, select: Int32Array): void {
  c.mine(matrix, 'matrix');
  c.native.lmHead(out.data as Float32Array, x.data as Float32Array, matrix.cols, select, FORMAT[matrix.format],
    matrix.data, matrix.scales, matrix.rows);
}
