/** `@trine/gateway/dev/redis-server`: the bench starts its throwaway redis-server through the gateway it measures. */
export * from '@trine/serving/dev/redis-server';
