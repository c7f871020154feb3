/**
 * @trine/kernels-webgpu: the WebGPU kernel backend (WGSL compute shaders) for Node (Dawn, the `webgpu` package) and
 * browsers (navigator.gpu). Weights and the KV cache live on the GPU; a decode step is one submission.
 */
import { TrineError, type BackendFactory, type BackendOptions } from '@trine/core';
import { WebGpuBackend, type WebGpuBackendOptions } from './backend.js';
import { acquireDevice, type DeviceRequest } from './device.js';

export { WebGpuBackend, type WebGpuBackendOptions } from './backend.js';
export { acquireDevice, type AcquiredDevice, type DeviceRequest } from './device.js';
export type { GpuHandles } from './handles.js';

export interface CreateWebGpuBackendOptions extends WebGpuBackendOptions, DeviceRequest {
  /** `dot4` (default where the adapter has packed_4x8_integer_dot_product) or `scalar` (unpacked int8 dots). */
  variant?: string;
}

/** Acquire an adapter and device and build the backend. Throws TrineError('BACKEND_UNAVAILABLE') without one. */
export async function createWebGpuBackend(options: CreateWebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  if (options.variant !== undefined && options.variant !== 'dot4' && options.variant !== 'scalar') {
    throw new TrineError('BACKEND_UNAVAILABLE', `webgpu: unknown variant '${options.variant}' (dot4, scalar)`, { field: 'variant' });
  }
  const acq = await acquireDevice(options);
  if (options.variant === 'dot4' && !acq.languageFeatures.has('packed_4x8_integer_dot_product')) {
    acq.device.destroy();
    throw new TrineError('BACKEND_UNAVAILABLE', 'webgpu: variant dot4 needs the packed_4x8_integer_dot_product WGSL feature', { field: 'variant' });
  }
  return new WebGpuBackend(acq, { ...options, dot4: options.variant !== 'scalar' && options.dot4 !== false });
}

export const webgpuBackendFactory: BackendFactory = {
  name: 'webgpu',
  priority: 30,
  async create(options?: BackendOptions) {
    return createWebGpuBackend(options?.variant ? { variant: options.variant } : {});
  },
};
