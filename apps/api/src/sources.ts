import { SluiceError } from '@sluice/core';
import type { ConfigStore, EventSource } from '@sluice/config-store';

interface CachedSource {
  readonly source: EventSource | undefined;
  readonly expiresAt: number;
}

/**
 * Event sources as the tracking path sees them: read through a short TTL cache
 * (SOURCE_CACHE_TTL) so the config store is not asked on every request.
 */
export class SourceResolver {
  private readonly cache = new Map<string, CachedSource>();
  private origins: { readonly allowed: ReadonlySet<string>; readonly expiresAt: number } | undefined;

  private readonly configStore: ConfigStore;
  private readonly ttlMs: number;

  constructor(configStore: ConfigStore, ttlMs: number) {
    this.configStore = configStore;
    this.ttlMs = ttlMs;
  }

  /** The enabled source, or SOURCE_NOT_FOUND / SOURCE_DISABLED / ORIGIN_NOT_ALLOWED. */
  async authorise(sourceId: string, origin: string | undefined): Promise<EventSource> {
    const source = await this.get(sourceId);
    if (source === undefined) throw new SluiceError('SOURCE_NOT_FOUND', `unknown event source "${sourceId}"`);
    if (!source.enabled) throw new SluiceError('SOURCE_DISABLED', `event source "${sourceId}" is disabled`);
    if (origin !== undefined && !originAllowed(source.allowedOrigins, origin)) {
      throw new SluiceError('ORIGIN_NOT_ALLOWED', `origin ${origin} is not allowed for source "${sourceId}"`);
    }
    return source;
  }

  /** For CORS preflight (which carries no body): is the origin allowed by any enabled source? */
  async anySourceAllows(origin: string): Promise<boolean> {
    const now = Date.now();
    if (this.origins === undefined || this.origins.expiresAt <= now) {
      const allowed = new Set<string>();
      for (const source of await this.configStore.listSources()) if (source.enabled) for (const candidate of source.allowedOrigins) allowed.add(candidate);
      this.origins = { allowed, expiresAt: now + this.ttlMs };
    }
    return this.origins.allowed.has('*') || this.origins.allowed.has(origin);
  }

  /** The source of this id, enabled or not, through the cache; undefined when there is none. */
  async get(sourceId: string): Promise<EventSource | undefined> {
    const now = Date.now();
    const cached = this.cache.get(sourceId);
    if (cached !== undefined && cached.expiresAt > now) return cached.source;
    const source = await this.configStore.getSource(sourceId);
    if (this.ttlMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(sourceId, { source, expiresAt: now + this.ttlMs });
    }
    return source;
  }
}

export function originAllowed(allowedOrigins: readonly string[], origin: string): boolean {
  return allowedOrigins.includes('*') || allowedOrigins.includes(origin);
}
