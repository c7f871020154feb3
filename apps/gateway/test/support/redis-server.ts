// The tests' throwaway redis-server lives in src/dev so the bench can start one too.
export * from '../../src/dev/redis-server.js';
