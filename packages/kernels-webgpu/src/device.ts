/**
 * Getting a GPUDevice: `navigator.gpu` in browsers (and Deno), else Dawn through the `webgpu` npm package in Node.
 * Asks for the adapter's own limits (storage binding and buffer size above the 128 / 256 MiB defaults) and the
 * optional features it has, so kernels can use them and large tensors are split only where the adapter needs it.
 */
import { TrineError } from '@trine/core';

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: { vendor: string; architecture: string; device: string; description: string };
  /** wgslLanguageFeatures of the GPU object (`packed_4x8_integer_dot_product`, …). */
  languageFeatures: ReadonlySet<string>;
  features: ReadonlySet<string>;
  /** A software adapter (the browser's fallback adapter, or one that says it is a CPU). */
  isFallback: boolean;
}

export interface DeviceRequest {
  /** Default `high-performance`: the discrete GPU where a host also has an integrated or software one. */
  powerPreference?: GPUPowerPreference;
  /** Milliseconds to wait for an adapter and device before giving up (default 10 s). */
  timeoutMs?: number;
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups' as GPUFeatureName, 'timestamp-query'];

let nodeGpu: Promise<GPU | null> | null = null;
/** Why Dawn was not loaded, when the host has no usable Vulkan driver. */
let nodeGpuSkipped: string | undefined;

/**
 * Whether Dawn could find a usable Vulkan driver in this Node process, decided without loading Dawn: Dawn prints
 * its driver errors straight to stderr, so probing it on a host without a GPU (the CLI's automatic backend choice)
 * would spray native warnings. Usable: an ICD named by VK_ICD_FILENAMES / VK_DRIVER_FILES (SwiftShader, say), or
 * a GPU device node (/dev/nvidia0, /dev/dri/renderD*). Mesa's lavapipe alone is rejected by Dawn anyway.
 */
async function nodeVulkanUsable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return { ok: true };
  try {
    const fsSpec = 'node:fs';
    const fs = (await import(/* @vite-ignore */ fsSpec)) as typeof import('node:fs');
    if (fs.existsSync('/dev/nvidia0')) return { ok: true };
    if (fs.existsSync('/dev/dri') && fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return { ok: true };
    if (process.platform !== 'linux') return { ok: true }; // Metal / D3D12: let Dawn decide
  } catch {
    return { ok: true };
  }
  return { ok: false, reason: 'no GPU device node (/dev/nvidia0, /dev/dri/renderD*) and no VK_ICD_FILENAMES' };
}

/** Dawn's Vulkan backend wants a private XDG_RUNTIME_DIR; give it one rather than let it complain on stderr. */
async function ensureRuntimeDir(): Promise<void> {
  const dir = process.env.XDG_RUNTIME_DIR;
  const [fsSpec, osSpec, pathSpec] = ['node:fs', 'node:os', 'node:path'];
  const fs = (await import(/* @vite-ignore */ fsSpec)) as typeof import('node:fs');
  if (dir && fs.existsSync(dir)) return;
  const os = (await import(/* @vite-ignore */ osSpec)) as typeof import('node:os');
  const path = (await import(/* @vite-ignore */ pathSpec)) as typeof import('node:path');
  process.env.XDG_RUNTIME_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'trine-xdg-'));
  fs.chmodSync(process.env.XDG_RUNTIME_DIR, 0o700);
}

/** Dawn for Node, loaded once and only when no navigator.gpu exists. */
async function loadNodeGpu(): Promise<GPU | null> {
  nodeGpu ??= (async () => {
    if (typeof process === 'undefined' || !process.versions?.node) return null;
    const usable = await nodeVulkanUsable();
    if (!usable.ok) {
      nodeGpuSkipped = usable.reason;
      return null;
    }
    try {
      await ensureRuntimeDir();
      const spec = 'webgpu';
      const mod = (await import(/* @vite-ignore */ spec)) as { create(flags: string[]): GPU; globals: Record<string, unknown> };
      // The GPU* constants (GPUBufferUsage, GPUShaderStage, …) the code below uses as globals.
      for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      return mod.create([]);
    } catch {
      return null;
    }
  })();
  return nodeGpu;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TrineError('BACKEND_UNAVAILABLE', `webgpu: ${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function acquireDevice(req: DeviceRequest = {}): Promise<AcquiredDevice> {
  const timeoutMs = req.timeoutMs ?? 10_000;
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu ?? (await loadNodeGpu());
  if (!gpu) {
    throw new TrineError(
      'BACKEND_UNAVAILABLE',
      nodeGpuSkipped
        ? `webgpu: no GPU adapter: ${nodeGpuSkipped}. For CPU emulation set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.`
        : 'webgpu: no WebGPU implementation here (no navigator.gpu, and the `webgpu` package for Node could not be loaded)',
    );
  }
  const adapter = await withTimeout(gpu.requestAdapter({ powerPreference: req.powerPreference ?? 'high-performance' }), timeoutMs, 'requestAdapter');
  if (!adapter) {
    throw new TrineError(
      'BACKEND_UNAVAILABLE',
      'webgpu: no GPU adapter. In Node this needs a Vulkan loader (libvulkan1) and driver; for CPU emulation set ' +
        'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json. Chromium needs --enable-unsafe-webgpu without a GPU.',
    );
  }
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const L = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
    maxBufferSize: L.maxBufferSize,
    maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
  };
  let device: GPUDevice;
  try {
    device = await withTimeout(adapter.requestDevice({ requiredFeatures: features, requiredLimits }), timeoutMs, 'requestDevice');
  } catch (e) {
    if (TrineError.is(e)) throw e;
    throw new TrineError('BACKEND_UNAVAILABLE', `webgpu: requestDevice failed: ${String(e)}`, { cause: e });
  }
  const ai = adapter.info ?? ({} as GPUAdapterInfo);
  return {
    device,
    adapter,
    info: { vendor: ai.vendor ?? '', architecture: ai.architecture ?? '', device: ai.device ?? '', description: ai.description ?? '' },
    languageFeatures: new Set(gpu.wgslLanguageFeatures ? [...gpu.wgslLanguageFeatures] : []),
    features: new Set(features),
    isFallback: Boolean((adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (ai as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
}
