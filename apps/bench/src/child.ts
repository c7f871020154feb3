/**
 * Child-process side: run one job and print its answer as one marked JSON line on stdout. One process per
 * backend × shape measurement, so `process.resourceUsage().maxRSS` is that run's peak.
 */
import { ANSWER_MARK, type Job, type JobAnswer } from './jobs.js';

export async function runJob(job: Job): Promise<JobAnswer> {
  switch (job.kind) {
    case 'model':
      return (await import('./suites/model.js')).runModelJob(job);
    case 'batched':
      return (await import('./suites/model.js')).runBatchedJob(job);
    case 'kernel':
      return (await import('./suites/kernels.js')).runKernelJob(job);
    case 'bandwidth':
      return (await import('./suites/bandwidth.js')).runBandwidthJob(job);
    case 'serving':
      return (await import('./suites/serving.js')).runServingJob(job);
    case 'constrain':
      return (await import('./suites/constrain.js')).runConstrainJob(job);
    case 'reuse':
      return (await import('./suites/reuse.js')).runReuseJob(job);
  }
}

export async function childMain(jobJson: string): Promise<void> {
  let answer: JobAnswer;
  try {
    answer = await runJob(JSON.parse(jobJson) as Job);
  } catch (e) {
    answer = { results: [], skipped: [{ what: 'job', reason: e instanceof Error ? (e.stack ?? e.message) : String(e) }] };
  }
  process.stdout.write(`${ANSWER_MARK}${JSON.stringify(answer)}\n`);
}
