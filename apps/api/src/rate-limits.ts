import { SluiceError } from '@sluice/core';
import type { RateLimiter } from '@sluice/cache';
import type { EventSource } from '@sluice/config-store';
import type { Metrics } from '@sluice/observability';

/**
 * Per-source rate limits of every tracking route (`/track`, the Segment-compatible ones): a
 * source's own `rateLimit`, else TRACK_RATE_LIMIT, counted by the cache's limiter (across
 * replicas with Redis). Checked before any identity work, so a refused request costs the
 * cache and the store nothing.
 */
export class SourceRateLimits {
  private readonly limiter: RateLimiter;
  private readonly metrics: Pick<Metrics, 'rateLimited'>;
  private readonly defaultPerSecond: number;

  /** `defaultPerSecond`: TRACK_RATE_LIMIT, events/s; 0 = no limit. */
  constructor(limiter: RateLimiter, metrics: Pick<Metrics, 'rateLimited'>, defaultPerSecond: number) {
    this.limiter = limiter;
    this.metrics = metrics;
    this.defaultPerSecond = defaultPerSecond;
  }

  /**
   * Resolves when `source` may send `events` more events now; else throws RATE_LIMITED with
   * the seconds until its allowance refills. No limit for the source: resolves at once.
   */
  async admit(source: Pick<EventSource, 'id' | 'rateLimit'>, events: number): Promise<void> {
    const perSecond = source.rateLimit ?? this.defaultPerSecond;
    if (perSecond === 0 || events === 0) return;
    const decision = await this.limiter.take(source.id, events, perSecond);
    if (decision.allowed) return;
    this.metrics.rateLimited.inc({ source: source.id }, events);
    throw new SluiceError('RATE_LIMITED', `source ${source.id} is over its rate limit of ${String(perSecond)} events/s`, { retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)) });
  }
}
