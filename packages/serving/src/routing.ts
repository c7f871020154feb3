/**
 * Prefix routing (issue 21, docs/decisions/prefix-cache.md): workers report which prefix-cache blocks their KV
 * slots hold, and the gateway sends a request whose prompt starts with one of them to that worker's own queue, so the
 * engine there prefills only the rest. Both sides import this file: it is the routing part of the contract.
 *
 * - A worker's report is one Redis hash, `report(worker)`: field `#free` (its free slots), `#block` (tokens per
 *   block), `#hits` (prompt positions its engine has served from the cache so far) and one field per block key its slots hold (`prefixBlockKeys` on token ids; a slot's keys are all
 *   prefixes of each other, so a worker holding key b holds every key before it). It expires `REPORT_TTL_MS` after
 *   the last refresh: a fresh report is the sign that the worker is alive.
 * - `workers` (a sorted set, score = last heartbeat, Redis clock) lists every worker that has its own queue, so
 *   the gateway can look the reports up and live workers can find the queue of one that died.
 * - A worker's own queue is a BullMQ queue of its own, `queueName(worker)`: jobs there get BullMQ's lock, stalled
 *   check and retries exactly as on the shared queue. When a worker's report expires (SIGKILL, or SIGTERM, which
 *   deletes it first), the live workers consume its queue too, with its stalled check, until it is empty and gone.
 */
import { invalidArgument } from '@trine/core';
import type { Redis } from 'ioredis';
import type { HeldPrefixes } from './engine-messages.js';
import { keys } from './protocol.js';

export const routing = {
  workers: `${keys.prefix}:route:workers`,
  /** Report keys are `reportPrefix + worker id`. */
  reportPrefix: `${keys.prefix}:route:report:`,
  report: (worker: string) => `${keys.prefix}:route:report:${worker}`,
  /** BullMQ queue names may not contain ':'; worker ids are checked by `checkWorkerId`. */
  queueName: (worker: string) => `${keys.queueName}.${worker}`,
} as const;

/** A report not refreshed for this long is gone: its worker is taken for dead and gets no more routed jobs. */
export const REPORT_TTL_MS = 3_000;
/** How often a worker refreshes its report while nothing changes (it also refreshes after every job). */
export const REPORT_EVERY_MS = 1_000;
/** A dead worker's entry (and its empty queue) is removed this long after its last heartbeat. */
export const FORGET_AFTER_MS = 60_000;

/** TRINE_PREFIX_ROUTING: off unless set to 1/true/on (gateway and workers each read it; any mix is safe). */
export function prefixRoutingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = (env.TRINE_PREFIX_ROUTING ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'off') return false;
  if (raw === '1' || raw === 'true' || raw === 'on') return true;
  throw invalidArgument('TRINE_PREFIX_ROUTING', `expected 1/true/on or 0/false/off, got '${raw.slice(0, 40)}'`);
}

/** A worker id names a queue and Redis keys: letters, digits, '-', '_' and '.', at most 64. */
export function checkWorkerId(id: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw invalidArgument('workerId', `must be 1-64 of [A-Za-z0-9._-], got '${id.slice(0, 80)}'`);
  return id;
}

/**
 * The gateway's choice, one script: among workers whose report is fresh, has a free slot and the same block size,
 * the one holding the longest run of the prompt's block keys (binary search: holding key b means holding all before
 * it); ties go to more free slots. It takes one of that worker's free slots in the report (until the worker's next
 * report), so concurrent requests do not all pick one free slot. Returns [worker, blocks] or nil.
 * KEYS[1] = workers; ARGV[1] = report key prefix, ARGV[2] = block tokens, ARGV[3..] = the prompt's block keys.
 */
export const ROUTE_SCRIPT = `
local n = #ARGV - 2
local best, bestLen, bestFree = nil, 0, 0
for _, w in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local rep = ARGV[1] .. w
  local f = redis.call('HMGET', rep, '#free', '#block')
  local free = tonumber(f[1])
  if free and free > 0 and f[2] == ARGV[2] then
    local lo, hi = 0, n
    while lo < hi do
      local mid = math.floor((lo + hi + 1) / 2)
      if redis.call('HEXISTS', rep, ARGV[2 + mid]) == 1 then lo = mid else hi = mid - 1 end
    end
    if lo > bestLen or (lo == bestLen and lo > 0 and free > bestFree) then best, bestLen, bestFree = w, lo, free end
  end
end
if not best then return nil end
redis.call('HINCRBY', ARGV[1] .. best, '#free', -1)
return {best, bestLen}
`;

/**
 * A worker's report. With keys (ARGV[5..], ARGV[4] = '1'): rewritten whole. Without (ARGV[4] = '0'): only the free
 * slots and the expiry are refreshed, and 0 is returned when the report had expired (the caller then rewrites it).
 * Either way the worker's heartbeat in `workers` is set from Redis's clock (one clock for every worker).
 * KEYS[1] = report, KEYS[2] = workers; ARGV[1] = ttl ms, ARGV[2] = worker, ARGV[3] = free, ARGV[4] = whole,
 * ARGV[5] = block tokens, ARGV[6] = hit tokens.
 */
const REPORT_SCRIPT = `
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[2])
if ARGV[4] == '0' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
  redis.call('HSET', KEYS[1], '#free', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 1
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '#free', ARGV[3], '#block', ARGV[5], '#hits', ARGV[6])
for i = 7, #ARGV, 500 do
  local args = {}
  for j = i, math.min(i + 499, #ARGV) do
    args[#args + 1] = ARGV[j]
    args[#args + 1] = '1'
  end
  redis.call('HSET', KEYS[1], unpack(args))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

type RouteCommands = {
  trineRoute(...args: (string | number)[]): Promise<[string, number] | null>;
  trineReport(...args: (string | number)[]): Promise<number>;
};

/** Defines the two scripts on a connection (idempotent). */
function commands(redis: Redis): RouteCommands {
  if (!('trineRoute' in redis)) {
    redis.defineCommand('trineRoute', { numberOfKeys: 1, lua: ROUTE_SCRIPT });
    redis.defineCommand('trineReport', { numberOfKeys: 2, lua: REPORT_SCRIPT });
  }
  return redis as unknown as RouteCommands;
}

/** The worker to send a prompt with these block keys to, or undefined (no fresh report holds its first block). */
export async function routeByPrefix(redis: Redis, blockTokens: number, blockKeys: readonly string[]): Promise<{ worker: string; blocks: number } | undefined> {
  if (blockKeys.length === 0) return undefined;
  const r = await commands(redis).trineRoute(routing.workers, routing.reportPrefix, blockTokens, ...blockKeys);
  return r ? { worker: r[0], blocks: Number(r[1]) } : undefined;
}

/** Writes a worker's report: whole when `held` is given, else free slots and expiry only (false: it had expired). */
export async function publishReport(redis: Redis, worker: string, free: number, held?: HeldPrefixes): Promise<boolean> {
  const c = commands(redis);
  const r = held
    ? await c.trineReport(routing.report(worker), routing.workers, REPORT_TTL_MS, worker, free, '1', held.blockTokens, held.hitTokens, ...held.keys)
    : await c.trineReport(routing.report(worker), routing.workers, REPORT_TTL_MS, worker, free, '0', 0, 0);
  return r === 1;
}
