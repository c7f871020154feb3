import { FORMAT, type CpuContext } from '../context.js';
import type { CpuMatrix, CpuTensor } from '../handles.js';

export function embedding(c: CpuContext, out: CpuTensor, table: CpuMatrix, ids: Int32Array): void {
  c.mine(table, 'embedding.table');
  c.native.embedding(out.data as Float32Array, ids, FORMAT[table.format], table.data, table.scales, table.rows, table.cols);
}
