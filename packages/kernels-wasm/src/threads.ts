/**
 * A pool of workers sharing the module's memory. Each worker instantiates the same shared-memory module; a
 * parallel kernel is published through a small shared control block and each thread computes its share of the
 * range (the calling thread takes share 0). Ops stay synchronous as the kernel interface requires: the caller
 * spins until every share is done (browsers forbid Atomics.wait on the main thread; workers may wait).
 *
 * The worker is plain JS kept as source text (no bundler, no extra file to locate): a Blob URL in browsers,
 * `eval: true` in Node.
 */
import { TrineError } from '@trine/core';
import { type Executor, share } from './executor.js';
import { isNode, type KernelExports, PARALLEL_KERNELS, type ParallelKernel } from './module.js';

// Control block (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // bumped for every job; workers wait on it
const DONE = 1; // shares finished by workers in this job
const KERNEL = 2; // index into PARALLEL_KERNELS
const TOTAL = 3;
const NARGS = 4;
const STOP = 5; // 1 = exit
const FAILED = 6; // 1 = a worker's kernel threw
const CTL_INTS = 8;
const MAX_ARGS = 24;
/** How long a caller waits for the workers before declaring the pool lost. */
const JOB_TIMEOUT_MS = 120_000;
/** Atomics.wait is allowed on Node's main thread (and in workers), never on a browser's main thread. */
const canBlock = isNode;

const WORKER_SOURCE = String.raw`
const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);
function start(msg, reply) {
  const { module, memory, ctlBuf, argBuf, tid, threads, names } = msg;
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const fns = names.map((n) => inst.exports[n]);
  const ctl = new Int32Array(ctlBuf);
  const args = new Float64Array(argBuf);
  // read the job counter before reporting ready: the first job may be published the moment main hears us
  let seen = Atomics.load(ctl, 0);
  reply({ ready: tid });
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctl, 0) === seen) {
      if (++spins > 20000) { Atomics.wait(ctl, 0, seen, 20); spins = 0; }
    }
    seen = Atomics.load(ctl, 0);
    if (Atomics.load(ctl, 5) === 1) break;
    const total = ctl[3];
    const lo = Math.floor((total * tid) / threads);
    const hi = Math.floor((total * (tid + 1)) / threads);
    if (hi > lo) {
      const n = ctl[4];
      const a = new Array(n + 3);
      for (let i = 0; i < n; i++) a[i] = args[i];
      a[n] = tid; a[n + 1] = lo; a[n + 2] = hi;
      try { fns[ctl[2]].apply(null, a); } catch (e) { Atomics.store(ctl, 6, 1); }
    }
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  }
}
if (isNode) {
  const { parentPort } = require('node:worker_threads');
  parentPort.once('message', (msg) => { start(msg, (m) => parentPort.postMessage(m)); parentPort.close(); });
} else {
  self.onmessage = (e) => { start(e.data, (m) => self.postMessage(m)); self.close(); };
}
`;

interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

async function spawn(): Promise<{ worker: AnyWorker; onMessage: (f: (m: unknown) => void) => void; onError: (f: (e: unknown) => void) => void }> {
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref(); // a pool that was never destroyed must not keep the process alive
    return { worker, onMessage: (f) => worker.on('message', f), onError: (f) => worker.on('error', f) };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(url);
  URL.revokeObjectURL(url);
  return {
    worker,
    onMessage: (f) => worker.addEventListener('message', (e) => f(e.data)),
    onError: (f) => worker.addEventListener('error', (e) => f(e)),
  };
}

export class ThreadPool implements Executor {
  private stopped = false;
  private constructor(
    readonly threads: number,
    private readonly exports: KernelExports,
    private readonly ctl: Int32Array,
    private readonly args: Float64Array,
    private readonly workers: AnyWorker[],
  ) {}

  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number): Promise<ThreadPool> {
    const ctlBuf = new SharedArrayBuffer(CTL_INTS * 4);
    const argBuf = new SharedArrayBuffer(MAX_ARGS * 8);
    const workers: AnyWorker[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, async (_, i) => {
          const w = await spawn();
          workers.push(w.worker);
          await new Promise<void>((resolve, reject) => {
            w.onMessage(() => resolve());
            w.onError((e) => reject(e instanceof Error ? e : new Error(String((e as { message?: string }).message ?? e))));
            w.worker.postMessage({ module, memory, ctlBuf, argBuf, tid: i + 1, threads, names: PARALLEL_KERNELS });
          });
        }),
      );
    } catch (e) {
      for (const w of workers) void w.terminate();
      throw new TrineError('BACKEND_UNAVAILABLE', `wasm backend: cannot start ${threads - 1} workers (${(e as Error).message})`, {
        field: 'threads',
        cause: e,
      });
    }
    return new ThreadPool(threads, exports, new Int32Array(ctlBuf), new Float64Array(argBuf), workers);
  }

  run(kernel: ParallelKernel, args: readonly number[], total: number): void {
    const T = this.threads;
    if (total < 2 * T || this.stopped) {
      (this.exports[kernel] as (...a: number[]) => void)(...args, 0, 0, total);
      return;
    }
    const ctl = this.ctl;
    for (let i = 0; i < args.length; i++) this.args[i] = args[i]!;
    ctl[KERNEL] = PARALLEL_KERNELS.indexOf(kernel);
    ctl[TOTAL] = total;
    ctl[NARGS] = args.length;
    Atomics.store(ctl, DONE, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    const [lo, hi] = share(total, T, 0);
    (this.exports[kernel] as (...a: number[]) => void)(...args, 0, lo, hi);
    const want = T - 1;
    let spins = 0;
    let since = 0;
    for (let done = Atomics.load(ctl, DONE); done < want; done = Atomics.load(ctl, DONE)) {
      // Node may block the calling thread: after a short spin, sleep until a worker reports (it notifies DONE),
      // which frees the core when threads outnumber idle cores. Browsers forbid that on the main thread.
      if (++spins >= 20_000 && canBlock) Atomics.wait(ctl, DONE, done, 5);
      if (spins >= 1_000_000 || (canBlock && spins >= 20_000 && spins % 1000 === 0)) {
        if (spins >= 1_000_000) spins = 0;
        since ||= Date.now();
        if (Date.now() - since > JOB_TIMEOUT_MS) {
          this.destroy();
          throw new TrineError('DEVICE_LOST', `wasm backend: worker threads stopped responding during ${kernel}`);
        }
      }
    }
    if (Atomics.load(ctl, FAILED) === 1) {
      Atomics.store(ctl, FAILED, 0);
      throw new TrineError('DEVICE_LOST', `wasm backend: ${kernel} failed in a worker thread`);
    }
  }

  destroy(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.ctl, STOP, 1);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
    for (const w of this.workers) void w.terminate();
  }
}
