export * from './port.ts';
export { LruProfileCache } from './embedded/lru-cache.ts';
export { RedisProfileCache, type CacheMetrics, type RedisProfileCacheOptions } from './redis/redis-cache.ts';
export { parseSentinels, type RedisConnectionConfig } from './redis/connection.ts';
export { inspectRedisServer, sharedEvictingServerWarning, type RedisServerFacts } from './redis/shared-server.ts';
export { MemoryRateLimiter, limitWindow, type RateDecision, type RateLimiter } from './rate-limit/rate-limiter.ts';
export { RedisRateLimiter } from './rate-limit/redis-rate-limiter.ts';
