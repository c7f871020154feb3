/**
 * The bench run: plan the matrix from the options, run each measurement in its own child process, run the external
 * engines on the same files, then write report.json, report.md, charts/*.svg, report.html and recommendations.json
 * under <out>/<run-id>/. Returns the exit code: 1 when a baseline was given and a result regressed beyond the
 * threshold, else 0.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrineError } from '@trine/core';
import { CATALOG, createBackend, threaded } from '@trine/backends';
import { llamaBenchResults, runLlamaBench } from './external/llama-bench.js';
import { hostClass, hostFacts } from './host.js';
import type { Job, JobAnswer, KernelShape } from './jobs.js';
import { ensureBenchModel } from './model/generate.js';
import { layerMatrices, shapeByName, type WeightFormat } from './model/shapes.js';
import type { BenchOptions } from './options.js';
import { recommend, renderRecommendations } from './recommend.js';
import { compareReports, type Comparison } from './report/compare.js';
import { renderHtml } from './report/html.js';
import { renderMarkdown } from './report/markdown.js';
import { runHardeningLong } from './suites/hardening.js';
import { REPORT_SCHEMA, type BenchReport, type BenchResult, type EngineRatio, type SkippedRun } from './report/schema.js';
import { renderCharts } from './report/svg.js';
import { describe, runInChild } from './spawn.js';
import { BANDWIDTH_SOURCE } from './suites/bandwidth.js';
import { maskShareOfStep } from './suites/constrain.js';

/** The trained default model (core's asset), measured by the reuse rows beside the random-weight shapes. */
const TRAINED_MODEL = fileURLToPath(new URL('../../../packages/core/assets/trine-default.gguf', import.meta.url));
/**
 * Prompt-lookup prompts, each a task whose answer restates the prompt (issue 21: "a code-editing or summarising
 * prompt"): for the shapes, a code edit (random weights: greedy decoding falls into loops whatever the prompt, and
 * lookup drafts the loop); for the trained model, text of its own domain to restate — the first paragraph of the
 * held-out split (training/data/test.txt: a Brown corpus news sample it never saw), then that paragraph begun again
 * with its first six words. Chosen by that rule, not by trying prompts for the best speed-up.
 */
const HELD_OUT_PARAGRAPH =
  "London, Feb. 9 -- Vital secrets of Britain's first atomic submarine, the Dreadnought, and, by implication, of the entire United States navy's still-building nuclear sub fleet, were stolen by a London-based soviet spy ring, secret service agents testified today. The Dreadnought was built on designs supplied by the United States in 1959 and was launched last year. It is a killer sub -- that is, a hunter of enemy subs. It has a hull patterned on that of the United States navy's Nautilus, the world's first atomic submarine.";
const LOOKUP_PROMPTS = {
  editWhat: 'code edit: rename a variable and print the function again',
  trainedWhat: 'held-out paragraph (training/data/test.txt, first), then begun again with its first 6 words',
  edit: 'Rename count to total and print the code again.\nfunction sum(items) {\n  let count = 0;\n  for (const x of items) count += x;\n  return count;\n}\nResult:\nfunction sum(items) {\n  let total = 0;',
  trained: `${HELD_OUT_PARAGRAPH}\n${HELD_OUT_PARAGRAPH.split(' ').slice(0, 6).join(' ')}`,
} as const;

/** The backends probed when none is named, by the catalog's priority (quick runs the first that starts). */
const PROBED = CATALOG.filter((e) => e.name !== 'reference')
  .sort((a, b) => b.priority - a.priority)
  .map((e) => e.name);

export interface RunOutcome {
  readonly dir: string;
  readonly report: BenchReport;
  readonly comparison?: Comparison;
  readonly exitCode: number;
}

async function probe(name: string): Promise<string | null> {
  const timeout = new Promise<{ unavailable: string }>((r) => setTimeout(() => r({ unavailable: 'did not start within 60 s' }), 60_000).unref());
  const made = await Promise.race([createBackend(name, { threads: 1 }), timeout]);
  if ('unavailable' in made) return made.unavailable;
  made.backend.destroy();
  return null;
}

async function chooseBackends(opts: BenchOptions, skipped: SkippedRun[], log: (s: string) => void): Promise<string[]> {
  if (opts.backends.length > 0) return [...opts.backends];
  const available: string[] = [];
  for (const name of PROBED) {
    const why = await probe(name);
    if (why === null) available.push(name);
    else skipped.push({ what: `backend ${name}`, reason: why });
  }
  log(`backends available: ${available.join(', ') || 'none but reference'}`);
  if (available.length === 0) return ['reference'];
  return opts.quick ? [available[0]!] : available;
}

/** Matrix shapes of the kernel suite: 2B4T's projections and LM head (the tiny shape's when only tiny is asked). */
export function kernelShapes(shapes: readonly string[]): KernelShape[] {
  const onlyTiny = shapes.every((s) => s === 'tiny');
  const s = shapeByName(onlyTiny ? 'tiny' : '2b4t');
  const seen = new Set<string>();
  const list: KernelShape[] = [];
  for (const [, n, k] of layerMatrices(s)) {
    const name = `${n}x${k}`;
    if (!seen.has(name)) list.push({ name, n, k, kind: 'ternary' });
    seen.add(name);
  }
  list.push({ name: `lm_head ${s.vocab}x${s.hidden}`, n: s.vocab, k: s.hidden, kind: 'lm_head' });
  return list;
}

/** Trine / external ratios for decode and prefill at batch 1, matched on shape and threads (shallowest context). */
export function engineRatios(results: readonly BenchResult[]): EngineRatio[] {
  const ratios: EngineRatio[] = [];
  const ext = results.filter((r) => r.engine !== 'trine' && (r.suite === 'decode' || r.suite === 'prefill'));
  const mine = results.filter((r) => r.engine === 'trine' && (r.suite === 'decode' || r.suite === 'prefill') && r.metric === 'tokens_per_s' && r.batch === 1);
  for (const e of ext) {
    const same = mine.filter((r) => r.suite === e.suite && r.shape === e.shape && r.threads === e.threads);
    const depth = Math.min(...same.map((r) => r.context ?? 0));
    for (const t of same.filter((r) => (r.context ?? 0) === depth))
      ratios.push({ suite: e.suite as 'decode' | 'prefill', shape: e.shape, threads: e.threads, backend: t.backend, ...(t.variant ? { variant: t.variant } : {}), external: e.engine, trine: t.value, other: e.value, ratio: t.value / e.value });
  }
  return ratios.sort((a, b) => a.suite.localeCompare(b.suite) || a.shape.localeCompare(b.shape) || a.threads - b.threads);
}

function runId(commit: string): string {
  return `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-${commit}`;
}

export async function runBench(opts: BenchOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<RunOutcome> {
  const t0 = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  const startedAt = new Date().toISOString();
  let baseline: BenchReport | undefined;
  let baselinePath = opts.baseline;
  if (!baselinePath && opts.baselineDir) {
    const candidate = join(opts.baselineDir, `${hostClass(hostFacts())}.json`);
    if (existsSync(candidate)) baselinePath = candidate;
    log(existsSync(candidate) ? `baseline: ${candidate}` : `baseline: none for this host class (${candidate})`);
  }
  if (baselinePath) {
    try {
      baseline = JSON.parse(await readFile(baselinePath, 'utf8')) as BenchReport;
    } catch (e) {
      throw new TrineError('INVALID_ARGUMENT', `--baseline ${baselinePath}: ${e instanceof Error ? e.message : String(e)}`, { field: 'baseline', cause: e });
    }
    if (baseline.schema !== REPORT_SCHEMA || !Array.isArray(baseline.results))
      throw new TrineError('INVALID_ARGUMENT', `--baseline ${baselinePath}: not a ${REPORT_SCHEMA} report`, { field: 'baseline' });
  }
  for (const [flag, p] of [['bitnet-cpp', opts.bitnetCpp], ['llama-cpp', opts.llamaCpp]] as const) {
    if (p === undefined) continue;
    try {
      await stat(p);
    } catch {
      throw new TrineError('NOT_FOUND', `--${flag}: ${p} does not exist`, { field: flag });
    }
  }

  const results: BenchResult[] = [];
  const skipped: SkippedRun[] = [];
  const facts: Record<string, string | number> = {};
  const timeoutMs = (opts.quick ? 10 : 40) * 60_000;
  const run = async (job: Job): Promise<JobAnswer> => {
    log(`▶ ${describe(job)}`);
    const started = performance.now();
    const a = await runInChild(job, { timeoutMs });
    log(`  ${((performance.now() - started) / 1000).toFixed(1)} s`);
    results.push(...a.results);
    skipped.push(...a.skipped);
    Object.assign(facts, a.facts ?? {});
    for (const s of a.skipped) log(`  unavailable: ${s.what}: ${s.reason.split('\n')[0]}`);
    return a;
  };

  const backends = await chooseBackends(opts, skipped, log);
  const threadsFor = (b: string): number[] => (threaded(b) ? [...opts.threads] : [1]);

  // Host read bandwidth first: the kernel suite's roofline needs it.
  const bandwidth: Record<string, number> = {};
  let bandwidthSource = BANDWIDTH_SOURCE;
  for (const t of opts.threads) {
    const a = await run({ kind: 'bandwidth', threads: t, megabytes: opts.quick ? 512 : 1024, reps: 5 });
    const r = a.results.find((x) => x.metric === 'read_bandwidth');
    if (r) bandwidth[String(t)] = r.value;
    if (r?.variant) bandwidthSource = r.variant;
  }

  // Model files.
  const models: Record<string, { path: string; bytes: number; format: string }> = {};
  const label = (shape: string, format: WeightFormat) => (format === 'i2_s' ? shape : `${shape}-${format}`);
  for (const name of opts.shapes) {
    for (const format of opts.formats) {
      try {
        const m = await ensureBenchModel(shapeByName(name), format, { ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), log });
        if (m.built) log(`  generated in ${m.seconds.toFixed(1)} s`);
        models[label(name, format)] = { path: m.path, bytes: (await stat(m.path)).size, format };
      } catch (e) {
        skipped.push({ what: `model ${label(name, format)}`, reason: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  // External engines on the same file at one thread count, right after Trine's runs at that count, so both see
  // the same machine (on a shared host the load drifts over minutes).
  const external = async (key: string, path: string, threads: number): Promise<void> => {
    for (const [engine, binary] of [['bitnet.cpp', opts.bitnetCpp], ['llama.cpp', opts.llamaCpp]] as const) {
      if (!binary) continue;
      log(`▶ ${engine} llama-bench ${key} ${threads}t`);
      const started = performance.now();
      try {
        const rows = await runLlamaBench(binary, path, { threads: [threads], prompt: opts.prefillTokens, gen: opts.decodeTokens, reps: opts.reps, timeoutMs: timeoutMs * 2 });
        results.push(...llamaBenchResults(engine, key, rows));
        log(`  ${((performance.now() - started) / 1000).toFixed(1)} s`);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        skipped.push({ what: `${engine} ${key} ${threads}t`, reason });
        log(`  unavailable: ${engine} ${key}: ${reason}`);
      }
    }
  };

  // Trine on every model × threads × backend, each thread count followed by the external engines at it.
  const contexts = opts.contexts;
  for (const [key, m] of opts.noModel ? [] : Object.entries(models)) {
    for (const threads of opts.threads) {
      for (const backend of backends) {
        // A single-threaded backend runs once, in the first thread-count round, labelled 1 thread.
        if (!threaded(backend) && threads !== opts.threads[0]) continue;
        const common = { backend, threads: threaded(backend) ? threads : 1, shape: key, modelPath: m.path };
        await run({ kind: 'model', ...common, lmHead: 'f16', decodeTokens: opts.decodeTokens, prefillTokens: opts.prefillTokens, contexts, reps: opts.reps, suites: ['prefill', 'decode'], driftSteps: 0 });
        if (opts.q8)
          await run({ kind: 'model', ...common, lmHead: 'q8', decodeTokens: opts.decodeTokens, prefillTokens: opts.prefillTokens, contexts: [contexts[0]!], reps: opts.reps, suites: ['decode'], driftSteps: opts.quick ? 8 : 16 });
        if (opts.batched && opts.batches.length > 0)
          await run({ kind: 'batched', ...common, batches: opts.batches, steps: opts.quick ? 8 : 24, promptTokens: 8 });
      }
      await external(key, m.path, threads);
    }
  }

  // Prefix cache and prompt lookup through the engine: each shape's file and the trained default model, on the
  // first backend at its highest thread count.
  if (opts.reuse) {
    const files: [string, string][] = [...Object.entries(models).map(([k, m]): [string, string] => [k, m.path]), ['trine-default', TRAINED_MODEL]];
    for (const [shape, modelPath] of files) {
      const backend = backends[0]!;
      const trained = modelPath === TRAINED_MODEL;
      await run({
        kind: 'reuse', backend, threads: Math.max(...threadsFor(backend)), shape, modelPath, systemTokens: 300,
        replyTokens: 8, decodeTokens: opts.quick ? 48 : 128, lookupK: 8, lookupPrompt: trained ? LOOKUP_PROMPTS.trained : LOOKUP_PROMPTS.edit,
        lookupPromptWhat: trained ? LOOKUP_PROMPTS.trainedWhat : LOOKUP_PROMPTS.editWhat,
        // The trained model's (and the tiny shape's) run of 128 tokens lasts ~40 ms, so one scheduler slice swings
        // its rate by tens of percent: many more alternating pairs for its median than a 2B4T run needs.
        reps: trained || shape === 'tiny' ? Math.max(opts.reps, 25) : opts.reps,
      });
    }
  }

  // Roofline denominator at t threads: the best bandwidth measured at ≤ t threads. More threads never have less
  // bandwidth available; a lower figure at 2 threads is another process taking the second core.
  const roofBandwidth = (t: number): number | undefined => {
    const seen = Object.entries(bandwidth).filter(([k]) => Number(k) <= t).map(([, v]) => v);
    return seen.length ? Math.max(...seen) : undefined;
  };
  if (opts.kernels) {
    const shapes = kernelShapes(opts.shapes);
    for (const backend of backends)
      for (const threads of threadsFor(backend))
        await run({
          kind: 'kernel', backend, threads, shapes, lmHeadFormats: opts.q8 ? ['f16', 'q8'] : ['f16'], gemmRows: opts.quick ? 0 : 128,
          minSeconds: opts.quick ? 0.3 : 1, ...(roofBandwidth(threads) ? { bandwidthGBs: roofBandwidth(threads), bandwidthSource } : {}),
        });
  }

  // Serving last: through the gateway and in-process, at the highest thread count.
  if (opts.concurrency.length > 0) {
    for (const [key, m] of Object.entries(models))
      for (const backend of backends) {
        const threads = Math.max(...threadsFor(backend));
        await run({ kind: 'serving', backend, threads, shape: key, modelPath: m.path, concurrency: opts.concurrency, requestsPerLevel: opts.quick ? 16 : 256, maxTokens: 16, context: 256 });
      }
  }

  // Constrained decoding: the mask's cost per token, then its share of the 2B4T decode step at 1 thread of this run.
  if (opts.constrain) {
    await run({ kind: 'constrain', vocab: opts.constrainVocab, quick: opts.quick });
    const step = (): boolean => results.some((r) => r.suite === 'decode' && r.engine === 'trine' && r.shape === '2b4t' && r.threads === 1 && r.batch === 1);
    const m = models['2b4t'];
    if (!step() && m)
      await run({ kind: 'model', backend: backends[0]!, threads: 1, shape: '2b4t', modelPath: m.path, lmHead: 'f16', decodeTokens: opts.decodeTokens, prefillTokens: opts.prefillTokens, contexts: [contexts[0]!], reps: opts.reps, suites: ['decode'], driftSteps: 0 });
    if (!step()) skipped.push({ what: 'constrain: share of a decode step', reason: 'no 2B4T decode at 1 thread in this run (--shapes must include 2b4t)' });
    results.push(...maskShareOfStep(results));
  }
  if (opts.hardening) {
    log('▶ hardening (long run)');
    const h = await runHardeningLong(log);
    results.push(...h.results);
    if (h.failure) skipped.push({ what: 'hardening long run', reason: h.failure });
  }

  const host = hostFacts({
    ...(Object.keys(bandwidth).length ? { memoryBandwidthGBs: bandwidth } : {}),
    loadAverage: { start: loadAtStart, end: os.loadavg()[0]! },
  });
  const report: BenchReport = {
    schema: REPORT_SCHEMA,
    run: { id: opts.runId ?? runId(host.commit), startedAt, mode: opts.quick ? 'quick' : 'full', args: opts.args, seconds: (performance.now() - t0) / 1000 },
    host,
    results,
    skipped,
    ratios: engineRatios(results),
    models,
  };
  const comparison = baseline ? compareReports(report, baseline, opts.threshold) : undefined;
  const dir = resolve(join(opts.out, report.run.id));
  await writeReport(dir, report, comparison);
  log(`report: ${join(dir, 'report.md')}`);
  return { dir, report, ...(comparison ? { comparison } : {}), exitCode: comparison && comparison.regressions.length > 0 ? 1 : 0 };
}

export async function writeReport(dir: string, report: BenchReport, comparison?: Comparison): Promise<void> {
  await mkdir(join(dir, 'charts'), { recursive: true });
  const recs = recommend(report);
  const charts = renderCharts(report);
  await writeFile(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'recommendations.json'), `${JSON.stringify(recs, null, 2)}\n`);
  await writeFile(join(dir, 'report.md'), renderMarkdown(report, comparison, renderRecommendations(recs)));
  for (const c of charts) await writeFile(join(dir, 'charts', `${c.id}.svg`), c.svg);
  await writeFile(join(dir, 'report.html'), renderHtml(report, charts, comparison));
}
