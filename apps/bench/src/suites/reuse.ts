/**
 * Less work per token (issue 21), through the engine as a server runs it: the time to first token of turn 5 of a
 * 5-turn chat with a 300-token system prompt, with and without the prefix cache; and decode speed with prompt
 * lookup against without it, on text whose continuation repeats earlier text (drafts accepted) and on sampled text
 * where drafts fail. Every pair runs in one process on one loaded model, interleaved, so ratios within a run hold
 * on a loaded machine where absolute figures drift.
 */
import { parseBackendName, loadEngine } from '@trine/backends';
import { DEFAULT_SAMPLING, type ChatMessage, type Engine, type EngineRequest, type GenerateEvent, type SamplingParams } from '@trine/core';
import type { JobAnswer, ReuseJob } from '../jobs.js';
import type { BenchResult } from '../report/schema.js';

const now = (): number => performance.now();

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

interface Run {
  readonly text: string;
  readonly inputTokens: number;
  readonly tokens: number;
  readonly ttftMs: number;
  readonly decodeMs: number;
}

/** One request to the end: wall time to its first token, and the engine's decode time after it. */
async function generate(engine: Engine, request: EngineRequest): Promise<Run> {
  const t0 = now();
  let ttftMs = 0;
  let text = '';
  let tokens = 0;
  let decodeMs = 0;
  let inputTokens = 0;
  for await (const ev of engine.generate(request) as AsyncIterable<GenerateEvent>) {
    if (ev.type === 'token') {
      if (tokens++ === 0) ttftMs = now() - t0;
      text += ev.text;
    } else if (ev.type === 'done') {
      text += ev.text;
      decodeMs = ev.timings.decodeMs;
      inputTokens = ev.usage.inputTokens;
    }
  }
  return { text, inputTokens, tokens, ttftMs, decodeMs };
}

/** About `n` tokens of varied instructions (numbered, so no two sentences tokenize alike). */
function systemPrompt(engine: Engine, n: number, variant: number): string {
  const rules = ['answer briefly', 'cite the source of each fact', 'say when you are unsure', 'use plain words', 'ask before you assume', 'keep lists short'];
  let text = 'You are a careful assistant.';
  for (let i = 1; engine.tokenize(text).length < n; i++) text += ` Rule ${i + variant * 100}: ${rules[i % rules.length]} when the question is about topic ${i * 7 + variant}.`;
  return text;
}

const greedy = (maxTokens: number): SamplingParams => ({ ...DEFAULT_SAMPLING, maxTokens });

/** One sequence at the model's whole context. */
async function open(job: ReuseJob, prefixCacheTokens: number): Promise<Engine> {
  const { engine } = await loadEngine({
    model: job.modelPath,
    settings: { backend: parseBackendName(job.backend, 'backend'), threads: job.threads },
    maxBatch: 1,
    prefixCacheTokens,
    measure: false,
  });
  return engine;
}

export async function runReuseJob(job: ReuseJob): Promise<JobAnswer> {
  const results: BenchResult[] = [];
  const skipped: { what: string; reason: string }[] = [];
  const base = { suite: 'reuse' as const, engine: 'trine', backend: job.backend, shape: job.shape, threads: job.threads, batch: 1 };
  const what = `${job.backend} ${job.shape} ${job.threads}t reuse`;

  // Turn 5 with and without the prefix cache. The cached engine runs the 5 turns as a chat client would, idle
  // between turns (the user reading and typing: the engine prefills the last reply again then); the uncached one
  // gets the same turn-5 messages, after a warm-up request.
  let engine = await open(job, Number.MAX_SAFE_INTEGER);
  // The whole chat must fit the context: 5 turns of ~15-token questions and replies take ~210 positions with the
  // chat template, so a 512-position model (the trained default, the tiny shape) gets a system prompt of half its
  // context instead of the 300 tokens (514-528 positions then).
  const systemTokens = Math.min(job.systemTokens, Math.floor(engine.config.context / 2));
  try {
    const cached: number[] = [];
    const messagesByRep: ChatMessage[][] = [];
    const reuse: string[] = [];
    for (let rep = 0; rep < job.reps; rep++) {
      const history: ChatMessage[] = [{ role: 'system', content: systemPrompt(engine, systemTokens, rep) }];
      for (let turn = 1; turn <= 5; turn++) {
        history.push({ role: 'user', content: `Question ${turn}: what does rule ${turn * 3 + rep} ask of me, and why?` });
        const hitsBefore = engine.stats.prefixHitTokens;
        const r = await generate(engine, { messages: history, sampling: greedy(job.replyTokens) });
        if (turn === 5) {
          cached.push(r.ttftMs);
          messagesByRep.push([...history]);
          reuse.push(`${engine.stats.prefixHitTokens - hitsBefore} of ${r.inputTokens} prompt tokens reused`);
        }
        history.push({ role: 'assistant', content: r.text });
        await engine.idle();
      }
    }
    await engine.close();
    engine = await open(job, 0);
    await generate(engine, { prompt: 'warm-up', sampling: greedy(1) });
    const uncached: number[] = [];
    for (const messages of messagesByRep) uncached.push((await generate(engine, { messages, sampling: greedy(1) })).ttftMs);
    const note = `${systemTokens}-token system prompt${systemTokens < job.systemTokens ? ` (${job.systemTokens} do not fit a ${engine.config.context}-token context)` : ''}, ${job.replyTokens}-token replies; ${reuse[0]}`;
    const [c, u] = [median(cached), median(uncached)];
    results.push(
      { ...base, variant: 'prefix-cache', metric: 'chat_turn5_ttft_ms', value: c, unit: 'ms', higherIsBetter: false, note },
      { ...base, variant: 'no-prefix-cache', metric: 'chat_turn5_ttft_ms', value: u, unit: 'ms', higherIsBetter: false, note },
      { ...base, metric: 'prefix_cache_ttft_speedup', value: u / c, unit: '×', higherIsBetter: true, note: 'turn-5 TTFT without / with the cache (target ≥ 5)' },
    );
  } catch (e) {
    skipped.push({ what: `${what} chat`, reason: e instanceof Error ? e.message : String(e) });
  } finally {
    await engine.close();
  }

  // Decode with prompt lookup K against without, alternating which runs first.
  engine = await open(job, 0);
  try {
    await generate(engine, { prompt: 'warm-up', sampling: greedy(2) });
    const cases = [
      { name: 'repeating', request: { prompt: job.lookupPrompt, sampling: greedy(job.decodeTokens) } },
      { name: 'drafts-fail', request: { prompt: job.lookupPrompt, sampling: { ...DEFAULT_SAMPLING, maxTokens: job.decodeTokens, temperature: 1, seed: 7 } } },
    ] as const;
    for (const c of cases) {
      const rate: Record<'off' | 'on', number[]> = { off: [], on: [] };
      const ratios: number[] = [];
      let drafted = 0;
      let accepted = 0;
      let same = true;
      let tokens = 0;
      for (let rep = 0; rep < job.reps; rep++) {
        const order = rep % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
        const texts: Record<string, string> = {};
        for (const mode of order) {
          const s = engine.stats;
          const r = await generate(engine, { ...c.request, promptLookup: mode === 'on' ? job.lookupK : 0 });
          if (mode === 'on') {
            drafted += engine.stats.draftedTokens - s.draftedTokens;
            accepted += engine.stats.acceptedTokens - s.acceptedTokens;
          }
          texts[mode] = r.text;
          tokens = r.tokens;
          rate[mode].push((r.tokens - 1) / (r.decodeMs / 1000));
        }
        same &&= texts.on === texts.off;
        ratios.push(rate.on.at(-1)! / rate.off.at(-1)!);
      }
      // The speed-up is the median of each adjacent pair's ratio: a pair runs within ~0.1 s, so load that drifts
      // over the run (other processes on a shared host) moves both sides; a ratio of the two medians does not cancel it.
      const [off, on] = [median(rate.off), median(rate.on)];
      const note = `${c.name}: ${job.lookupPromptWhat}${c.name === 'drafts-fail' ? ', sampled T = 1' : ', greedy'}; ${tokens} tokens, K = ${job.lookupK}, ${drafted} drafted, ${accepted} accepted${same ? ', same text' : ', TEXT DIFFERS'}`;
      results.push(
        { ...base, variant: `${c.name} lookup-off`, metric: 'decode_tokens_per_s', value: off, unit: 'tok/s', higherIsBetter: true, note },
        { ...base, variant: `${c.name} lookup-K${job.lookupK}`, metric: 'decode_tokens_per_s', value: on, unit: 'tok/s', higherIsBetter: true, note },
        { ...base, variant: c.name, metric: 'prompt_lookup_speedup', value: median(ratios), unit: '×', higherIsBetter: true, note: `${note}; median of ${ratios.length} pairs' ratios (target: ≥ 1.5 repeating, ≥ 0.98 drafts-fail)` },
        { ...base, variant: c.name, metric: 'prompt_lookup_acceptance', value: drafted > 0 ? accepted / drafted : 0, unit: 'fraction', higherIsBetter: true, note },
      );
    }
  } catch (e) {
    skipped.push({ what: `${what} prompt lookup`, reason: e instanceof Error ? e.message : String(e) });
  } finally {
    await engine.close();
  }

  // What verifying costs on this model: a decode step of K + 1 rows of one sequence (as prompt lookup feeds it)
  // against a step of one row, timed directly on the engine's model (its slot is free; the engine is idle and keeps
  // no prefix cache). Where drafts are never accepted (random weights rarely repeat text) this is the figure that
  // says what lookup would give: K + 1 tokens per verify step when every draft is accepted, so cost / (K + 1) is the
  // time per token then, and the rows rejected drafts cost when none is.
  engine = await open(job, 0);
  try {
    const be = engine.model.backend;
    const from = 32;
    await generate(engine, { prompt: job.lookupPrompt, sampling: greedy(2) });
    const out = be.alloc('i32', [job.lookupK + 1]);
    const step = async (rows: number): Promise<number> => {
      const t0 = now();
      const logits = await engine.model.forward({
        tokens: Int32Array.from({ length: rows }, (_, i) => 1 + i),
        positions: Int32Array.from({ length: rows }, (_, i) => from + i),
        slots: new Int32Array(rows),
        logitsFor: Int32Array.from({ length: rows }, (_, i) => i),
        decode: true,
      });
      be.argmax(out, logits, rows);
      await be.read(out, rows);
      return now() - t0;
    };
    const one: number[] = [];
    const many: number[] = [];
    try {
      await step(1);
      await step(job.lookupK + 1);
      for (let r = 0; r < Math.max(5, job.reps * 3); r++) {
        one.push(await step(1));
        many.push(await step(job.lookupK + 1));
      }
    } finally {
      be.dispose(out);
    }
    const cost = median(many) / median(one);
    const note = `decode step of ${job.lookupK + 1} rows of one sequence vs 1 row (median ${median(many).toFixed(1)} vs ${median(one).toFixed(1)} ms)`;
    results.push(
      { ...base, variant: `K${job.lookupK}`, metric: 'lookup_verify_step_cost', value: cost, unit: '×', higherIsBetter: false, note },
      { ...base, variant: `K${job.lookupK}`, metric: 'lookup_speedup_ceiling', value: (job.lookupK + 1) / cost, unit: '×', higherIsBetter: true, note: `every draft accepted: ${job.lookupK + 1} tokens per verify step; ${note}` },
    );
  } catch (e) {
    skipped.push({ what: `${what} verify step`, reason: e instanceof Error ? e.message : String(e) });
  } finally {
    await engine.close();
  }
  return { results, skipped };
}
