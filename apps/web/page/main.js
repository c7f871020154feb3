// The page: load a GGUF (Trine's trained default, or a file the user picks) and generate text with a kernel backend
// chosen from BACKENDS, all in the page. To add WebGPU later, add one entry to BACKENDS; nothing else changes.
import {
  BitNetModel,
  DEFAULT_SAMPLING,
  Engine,
  ENGINE_DEFAULTS,
  createTokenizer,
  TRAINED_DEFAULT_MODEL_FILE,
  openModel,
  resolveBackend,
} from '@trine/core';

/** Backend packages this page can use, by registry name: each loads its factory on demand. */
const BACKENDS = {
  wasm: async () => (await import('@trine/kernels-wasm')).wasmBackendFactory,
  webgpu: async () => (await import('@trine/kernels-webgpu')).webgpuBackendFactory,
};

const $ = (id) => document.getElementById(id);
const status = (text) => ($('status').textContent = text);
let engine = null;

const factories = [];
for (const [name, load] of Object.entries(BACKENDS)) {
  try {
    factories.push(await load());
  } catch (e) {
    console.warn(`backend ${name} unavailable:`, e);
  }
}
// `auto`: resolveBackend's choice — the highest-priority backend that starts here (webgpu, else wasm).
$('backend').append(new Option('auto', ''));
for (const f of factories) $('backend').append(new Option(f.name, f.name));
$('threads').value = String(globalThis.crossOriginIsolated ? Math.min(navigator.hardwareConcurrency || 1, 8) : 1);

async function modelBytes() {
  if (document.querySelector('input[name=model]:checked').value === 'file') {
    const file = $('file').files[0];
    if (!file) throw new Error('pick a .gguf file first');
    return new Uint8Array(await file.arrayBuffer());
  }
  // The default is the model the CLI embeds (packages/core/assets), served beside the page.
  const res = await fetch(`./models/${TRAINED_DEFAULT_MODEL_FILE}`);
  if (!res.ok) throw new Error(`the default model: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function load() {
  $('generate').disabled = true;
  engine?.close?.();
  engine = null;
  status('Loading…');
  const t0 = performance.now();
  const backend = await resolveBackend({ candidates: factories, force: $('backend').value || undefined, options: { threads: Number($('threads').value) || 1 } });
  try {
    // refuse a model the backend cannot hold before reading any tensor (wasm32: 4 GiB)
    const budget = backend.memoryAvailable;
    const source = await openModel(await modelBytes(), budget !== undefined ? { memoryBudgetBytes: budget } : {});
    const cfg = source.config;
    const context = Math.min(cfg.context, 2048);
    const model = await BitNetModel.load(source, backend, { slots: 1, context, maxBatchTokens: Math.min(context, 128) });
    await source.close();
    engine = new Engine(model, createTokenizer(source.tokenizer), {
      maxBatch: 1,
      context,
      maxBatchTokens: Math.min(context, 128),
      maxQueue: ENGINE_DEFAULTS.maxQueue,
      name: source.name,
    });
    engine.onClose = () => {
      model.dispose();
      backend.destroy();
    };
    const { name, variant, threads } = backend.info;
    $('backend-info').textContent = `${name} · ${variant} · ${threads} thread${threads > 1 ? 's' : ''}`;
    status(`Loaded ${source.name} (${cfg.layers} layers, hidden ${cfg.hidden}, vocab ${cfg.vocab}) in ${((performance.now() - t0) / 1000).toFixed(2)} s.`);
    $('generate').disabled = false;
  } catch (e) {
    backend.destroy();
    throw e;
  }
}

async function generate() {
  $('generate').disabled = true;
  $('output').textContent = '';
  // A small model's greedy text soon loops: the page samples (seeded, so a run can be repeated) unless set to 0.
  const temperature = Math.min(Math.max(Number($('temperature').value) || 0, 0), 2);
  const sampling = { ...DEFAULT_SAMPLING, maxTokens: Number($('max-tokens').value) || 32, temperature, seed: Number($('seed').value) || 0 };
  let tokens = 0;
  let first = 0;
  const t0 = performance.now();
  status('Generating…');
  for await (const ev of engine.generate({ prompt: $('prompt').value, sampling })) {
    if (ev.type === 'token') {
      if (tokens++ === 0) first = performance.now();
      $('output').textContent += ev.text;
    } else if (ev.type === 'done') {
      const decodeS = (performance.now() - first) / 1000;
      const rate = tokens > 1 ? ((tokens - 1) / decodeS).toFixed(1) : '–';
      status(`Done: ${tokens} tokens (${ev.finishReason}), first token after ${((first - t0) / 1000).toFixed(2)} s, ${rate} tokens/s.`);
      $('output').dataset.tokens = String(tokens);
    }
  }
  $('generate').disabled = false;
}

const report = (e) => {
  console.error(e);
  status(`Error: ${e?.message ?? e}`);
  $('generate').disabled = engine === null;
};
$('load').onclick = () => load().catch(report);
$('generate').onclick = () => generate().catch(report);
document.body.dataset.ready = 'true';
