import { LRUCache } from 'lru-cache';
import type { DependencyHealth } from '@sluice/observability';
import type { ProfileCache } from '../port.ts';
import { MemoryRateLimiter, type RateLimiter } from '../rate-limit/rate-limiter.ts';

/** The embedded ProfileCache: an in-process LRU with per-entry TTL. Lost on restart. */
export class LruProfileCache implements ProfileCache {
  readonly shared = false;
  private readonly entries: LRUCache<string, string>;

  constructor(options: { maxEntries: number }) {
    this.entries = new LRUCache<string, string>({ max: options.maxEntries, ttlAutopurge: false, allowStale: false });
  }

  async get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.set(key, value, { ttl: ttlSeconds * 1000 });
  }

  async claim(key: string, value: string, ttlSeconds: number): Promise<string> {
    const existing = this.entries.get(key);
    const winner = existing ?? value;
    this.entries.set(key, winner, { ttl: ttlSeconds * 1000 });
    return winner;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  rateLimiter(options: { maxEventsPerRequest: number }): RateLimiter {
    return new MemoryRateLimiter(options);
  }

  async health(): Promise<DependencyHealth> {
    return { ok: true, adapter: 'embedded', detail: { entries: this.entries.size, max: this.entries.max } };
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
