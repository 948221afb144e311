import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** What a rate limiter decided for one take. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * Per-key rate limits in events per second (a key is a source id). The embedded limiter
 * counts in this process; the Redis one across every replica.
 */
export interface RateLimiter {
  /**
   * Takes `events` from `key`'s allowance of `perSecond` events per second. Never throws:
   * a limiter whose store fails decides locally (fails open to a per-process bucket).
   */
  take(key: string, events: number, perSecond: number): Promise<RateDecision>;
}

/**
 * The window of a limit: whole seconds, long enough that the largest request allowed
 * (`maxEventsPerRequest`) fits in one window's allowance — a limit below TRACK_MAX_EVENTS
 * would otherwise refuse such a request forever. Allowance = `perSecond` × window.
 */
export function limitWindow(perSecond: number, maxEventsPerRequest: number): { seconds: number; points: number } {
  const seconds = Math.max(1, Math.ceil(maxEventsPerRequest / perSecond));
  return { seconds, points: perSecond * seconds };
}

/**
 * A fixed-window counter per key and limit (rate-limiter-flexible): the allowance of a
 * window is spent by the events taken, and refilled whole when the window ends — a bucket
 * of `points` tokens refilled every `seconds`. Limiters are built once per distinct limit.
 */
export class LimiterPool {
  private readonly limiters = new Map<number, RateLimiterAbstract>();
  private readonly maxEventsPerRequest: number;
  private readonly build: (window: { seconds: number; points: number }, keyPrefix: string) => RateLimiterAbstract;

  constructor(maxEventsPerRequest: number, build: (window: { seconds: number; points: number }, keyPrefix: string) => RateLimiterAbstract) {
    this.maxEventsPerRequest = maxEventsPerRequest;
    this.build = build;
  }

  /** The limiter of one limit; its keys name the limit, so a changed limit starts a fresh count. */
  of(perSecond: number): RateLimiterAbstract {
    let limiter = this.limiters.get(perSecond);
    if (limiter === undefined) {
      const window = limitWindow(perSecond, this.maxEventsPerRequest);
      limiter = this.build(window, `rate:${String(window.points)}/${String(window.seconds)}s`);
      this.limiters.set(perSecond, limiter);
    }
    return limiter;
  }
}

/**
 * Consumes `events` points; a refusal of the limiter (over the allowance) is a decision, any
 * other failure (the store) is thrown.
 */
export async function consume(limiter: RateLimiterAbstract, key: string, events: number): Promise<RateDecision> {
  try {
    await limiter.consume(key, events);
    return { allowed: true };
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) return { allowed: false, retryAfterMs: refusal.msBeforeNext };
    throw refusal;
  }
}

/** The embedded limiter: counts in this process only (one API process, or a fallback). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly pool: LimiterPool;

  constructor(options: { maxEventsPerRequest: number }) {
    this.pool = new LimiterPool(options.maxEventsPerRequest, (window, keyPrefix) => new RateLimiterMemory({ points: window.points, duration: window.seconds, keyPrefix }));
  }

  take(key: string, events: number, perSecond: number): Promise<RateDecision> {
    return consume(this.pool.of(perSecond), key, events);
  }
}
