import { Redis, type Result } from 'ioredis';
import { withTimeout } from '@sluice/core';
import type { DependencyHealth, Metrics } from '@sluice/observability';
import type { ProfileCache } from '../port.ts';
import { redisConnectionOptions, type RedisConnectionConfig } from './connection.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { RedisRateLimiter } from '../rate-limit/redis-rate-limiter.ts';

/** The metrics the Redis cache records, from the process's Metrics (injected, never global). */
export type CacheMetrics = Pick<Metrics, 'cacheHits' | 'cacheMisses' | 'cacheErrors' | 'cacheCommandDuration'>;

export interface RedisProfileCacheOptions {
  readonly connection: RedisConnectionConfig;
  /** Prepended to every key (`sluice:cache:`, `<tenant>-sluice:cache:`), so tenants and uses never collide. */
  readonly keyPrefix: string;
  /** A command not answered within this fails (REDIS_COMMAND_TIMEOUT), ms. */
  readonly commandTimeoutMs: number;
  /**
   * How long a command waits for others before they go to Redis together (REDIS_COMMAND_LINGER),
   * ms; 0: those issued in one turn of the event loop share a pipeline (auto-pipelining).
   */
  readonly commandLingerMs?: number;
  readonly metrics?: CacheMetrics | undefined;
}

type Operation = 'get' | 'set' | 'claim' | 'delete';

/**
 * After a command times out with no answer from Redis since it was sent (a hung server, not
 * a slow command among answered ones), how long every command fails at once, ms. Commands
 * issued behind a hung one share its pipeline and would each wait for its timeout before
 * their own started (twice REDIS_COMMAND_TIMEOUT); instead the cache is taken as down for
 * this long, then the next commands probe it.
 */
const SUSPECT_MS = 1000;
/** Longest wait for the health check's PING, ms: below /readyz's 2 s bound whatever REDIS_COMMAND_TIMEOUT is. */
const HEALTH_PING_MS = 1000;

/**
 * `claim` as one Lua script, atomic on the server across every process: the stored value
 * wins and has its TTL refreshed (sliding), else ours is stored. KEYS[1] key; ARGV[1]
 * value; ARGV[2] TTL, s. Returns the winner and 1 when it was already there, 0 when stored.
 *
 * Why a script rather than `SET NX` then `EXPIRE`: the two commands are two round trips,
 * and the key can expire between them (the EXPIRE then refreshes nothing while the caller
 * reports a winner a concurrent claim may already have replaced). `SET … NX GET` (Redis 7)
 * does not refresh the TTL of a value it finds. The script does both in one step, in one
 * round trip, on any Redis ≥ 2.6, and ioredis sends it by SHA after the first call.
 */
const CLAIM_SCRIPT = `
local existing = redis.call('GET', KEYS[1])
if existing then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return {existing, 1}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {ARGV[1], 0}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sluiceClaim(key: string, value: string, ttlSeconds: number): Result<[string, number], Context>;
  }
}

/**
 * The ProfileCache on Redis (ioredis), shared by every replica. On the request path a
 * command fails fast rather than waiting: a per-command timeout, no offline queue (a
 * command issued while disconnected fails at once), no retries of in-flight commands after
 * a reconnect; commands issued in the same tick go in one pipeline (auto-pipelining), and with
 * a linger those issued within it do too. The connection itself reconnects without end,
 * directly or through Sentinel.
 */
export class RedisProfileCache implements ProfileCache {
  readonly shared = true;
  private readonly redis: Redis;
  private readonly mode: 'standalone' | 'sentinel';
  private readonly metrics: CacheMetrics | undefined;
  /** Until when commands fail at once after a timeout (ms since the epoch; see SUSPECT_MS). */
  private suspectUntil = 0;
  /** When Redis last answered a command (performance.now(), ms). */
  private lastAnswerAt = 0;
  private readonly lingerMs: number;
  /**
   * While a linger runs: resolves when it ends. Every command waiting on it is then issued in
   * one tick, so auto-pipelining sends them as one pipeline (one write, one read): under load
   * that saves a send and a wake-up of Redis and of this process per request (docs/redis.md).
   */
  private linger: Promise<void> | undefined;

  private constructor(options: RedisProfileCacheOptions) {
    this.metrics = options.metrics;
    this.lingerMs = options.commandLingerMs ?? 0;
    this.mode = options.connection.sentinel === undefined ? 'standalone' : 'sentinel';
    this.redis = new Redis({
      ...redisConnectionOptions(options.connection),
      keyPrefix: options.keyPrefix,
      connectionName: 'sluice-cache',
      commandTimeout: options.commandTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: true,
      // The rate limiter's script (rate-limiter-flexible's `rlflxIncr`) goes on its own: in an
      // auto-pipeline with another command, ioredis 5.11 matches the replies wrongly and throws
      // an uncaught TypeError (tested: a take in the same tick as a claim).
      autoPipeliningIgnoredCommands: ['rlflxIncr'],
      // After a failover the old primary may answer as a replica until Sentinel's
      // announcement arrives: reconnect (through the sentinels) on READONLY.
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      lazyConnect: true,
    });
    // Connection errors are reported by health() and by the commands that fail; without a
    // listener ioredis would print each reconnect attempt's error.
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('sluiceClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
  }

  /**
   * Connects and waits until Redis answers, at most `waitMs`. Never throws for an
   * unreachable Redis: the cache keeps reconnecting in the background, its commands fail
   * until then and health() says so.
   */
  static async open(options: RedisProfileCacheOptions, waitMs = 5000): Promise<RedisProfileCache> {
    const cache = new RedisProfileCache(options);
    await cache.waitUntilReady(waitMs);
    return cache;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.timed('get', () => this.redis.get(key));
    this.count('get', value !== null);
    return value ?? undefined;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.timed('set', () => this.redis.set(key, value, 'EX', ttlSeconds));
  }

  async claim(key: string, value: string, ttlSeconds: number): Promise<string> {
    const [winner, existed] = await this.timed('claim', () => this.redis.sluiceClaim(key, value, ttlSeconds));
    this.count('claim', existed === 1);
    return winner;
  }

  async delete(key: string): Promise<void> {
    await this.timed('delete', () => this.redis.del(key));
  }

  /** Counts on this cache's connection; each take is sent on its own, never lingered or auto-pipelined. */
  rateLimiter(options: { maxEventsPerRequest: number; onFallback?: () => void }): RateLimiter {
    return new RedisRateLimiter({ redis: this.redis, ...options, isDown: () => Date.now() < this.suspectUntil });
  }

  /**
   * Degraded while the connection is not ready (no command is sent then) or a PING, bounded
   * by the command timeout, fails; cheap: one round trip at most. Degraded, not failed: the
   * API serves without the cache by its documented rule (docs/redis.md), so a Redis outage
   * never takes replicas out of rotation.
   */
  async health(): Promise<DependencyHealth> {
    const detail = { mode: this.mode, status: this.redis.status };
    if (this.redis.status !== 'ready') return { ok: true, degraded: true, adapter: 'redis', detail, error: `not connected (${this.redis.status})` };
    const started = performance.now();
    try {
      await withTimeout(HEALTH_PING_MS, () => this.redis.ping(), () => new Error(`no answer to PING within ${String(HEALTH_PING_MS)} ms`));
      // Redis answers: whatever timed out before, commands may go to it again.
      this.suspectUntil = 0;
      return { ok: true, adapter: 'redis', detail: { ...detail, pingMs: Math.round((performance.now() - started) * 10) / 10 } };
    } catch (error) {
      return { ok: true, degraded: true, adapter: 'redis', detail, error: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Closes the connection: when connected, after the commands already sent are answered
   * (QUIT); otherwise at once, stopping the reconnection attempts. Safe to call twice.
   */
  async close(): Promise<void> {
    // Commands waiting on a linger are issued when it ends: before QUIT, not after.
    if (this.linger !== undefined) await this.linger;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    // Also after QUIT: only disconnect() closes the failover detector's subscriptions to the
    // sentinels (ioredis 5.11), which would otherwise keep the process alive.
    this.redis.disconnect();
  }

  /** The running linger, or a new one: the first command of a pipeline starts it. */
  private lingered(): Promise<void> {
    this.linger ??= new Promise((resolve) =>
      setTimeout(() => {
        this.linger = undefined;
        resolve();
      }, this.lingerMs),
    );
    return this.linger;
  }

  private async waitUntilReady(waitMs: number): Promise<void> {
    const ready = new Promise<void>((resolve) => this.redis.once('ready', () => resolve()));
    // A first connection that fails is retried by the retry strategy; open() only waits.
    this.redis.connect().catch(() => undefined);
    await withTimeout(waitMs, () => ready, () => new Error('not ready yet')).catch(() => undefined);
  }

  private async timed<T>(operation: Operation, command: () => Promise<T>): Promise<T> {
    if (this.lingerMs > 0) await this.lingered();
    if (Date.now() < this.suspectUntil) {
      this.metrics?.cacheErrors.inc({ operation });
      throw new Error(`Redis left a command unanswered for REDIS_COMMAND_TIMEOUT less than ${String(SUSPECT_MS)} ms ago: taken as down`);
    }
    const stop = this.metrics?.cacheCommandDuration.startTimer({ operation });
    // performance.now(), not Date.now(): at millisecond grain an answer and the next send
    // often share a tick, and a hung Redis was then not taken as down.
    const sentAt = performance.now();
    try {
      const answer = await command();
      this.lastAnswerAt = performance.now();
      return answer;
    } catch (error) {
      this.metrics?.cacheErrors.inc({ operation });
      if (error instanceof Error && error.message === 'Command timed out') {
        // After this process stalled (CPU, GC), the timeout fires before the answers already
        // in the socket are read: let them be read (setImmediate runs after the poll phase)
        // before judging that Redis answered nothing since the command was sent.
        await new Promise((resolve) => setImmediate(resolve));
        if (this.lastAnswerAt < sentAt) this.suspectUntil = Date.now() + SUSPECT_MS;
      }
      throw error;
    } finally {
      stop?.();
    }
  }

  private count(operation: Operation, hit: boolean): void {
    (hit ? this.metrics?.cacheHits : this.metrics?.cacheMisses)?.inc({ operation });
  }
}
