/**
 * The worker's BullMQ fetch loop on a real redis-server: a claimed job starts before the next claim is sent, and
 * jobs still end through BullMQ (completed with their result, failed with their error, none left active).
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '@trine/serving/dev/redis-server';
import { PromptWorker } from '../src/prompt-worker.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('PromptWorker', () => {
  it('starts each claimed job before claiming the next, and ends jobs through BullMQ', async () => {
    const name = 'prompt-worker-test';
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection: { url: redis.url } });
    await events.waitUntilReady();
    let claims = 0;
    const claimsAtStart: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const worker = new PromptWorker<{ n: number }, number>(
      name,
      async (job: Job<{ n: number }, number>) => {
        claimsAtStart.push(claims);
        await held;
        if (job.data.n === 3) throw new Error('job 3 fails');
        return job.data.n * 10;
      },
      { connection, concurrency: 8, autorun: false },
    );
    // Counts claims as the loop makes them (BullMQ's own loop claims until its concurrency is full first).
    const getNextJob = worker.getNextJob.bind(worker);
    worker.getNextJob = (token, opts) => {
      claims++;
      return getNextJob(token, opts);
    };
    try {
      await queue.addBulk(Array.from({ length: 6 }, (_, n) => ({ name: 'j', data: { n }, opts: { jobId: `j${n}` } })));
      const ended = Promise.all(
        Array.from({ length: 6 }, (_, n) => new Promise<void>((resolve) => {
          events.on('completed', ({ jobId }) => jobId === `j${n}` && resolve());
          events.on('failed', ({ jobId }) => jobId === `j${n}` && resolve());
        })),
      );
      void worker.run();
      const until = Date.now() + 10_000;
      while (claimsAtStart.length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      // The k-th job started right after the k-th claim, not after a run of claims.
      expect(claimsAtStart).toEqual([1, 2, 3, 4, 5, 6]);
      release();
      await ended;
      expect((await queue.getJob('j2'))?.returnvalue).toBe(20);
      expect((await queue.getJob('j3'))?.failedReason).toBe('job 3 fails');
      expect(await queue.getJobCounts('active', 'completed', 'failed')).toEqual({ active: 0, completed: 5, failed: 1 });
    } finally {
      release();
      await worker.close();
      await events.close();
      await queue.close();
      connection.disconnect();
    }
  });

  it('close() ends the wait after a failed claim instead of sitting out runRetryDelay', async () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const worker = new PromptWorker('prompt-worker-retry', async () => 1, { connection, autorun: false, runRetryDelay: 600_000 });
    worker.getNextJob = () => Promise.reject(new Error('claim failed'));
    const reported = new Promise<string>((r) => worker.once('error', (e) => r(e.message)));
    try {
      void worker.run();
      // Reported, so the loop now waits runRetryDelay before its next claim.
      expect(await reported).toBe('claim failed');
      // Without the abort on 'closing', close() waits for the loop, and the loop for 10 minutes.
      await worker.close();
    } finally {
      connection.disconnect();
    }
  }, 20_000);
});
