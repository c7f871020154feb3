// The tests' throwaway redis-server (development tooling of @trine/serving, so worker and serving tests start one too).
export * from '@trine/serving/dev/redis-server';
