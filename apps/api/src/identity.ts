import { newProfileId, sessionProfileId, type TrackPayload } from '@sluice/core';
import type { ProfileCache } from '@sluice/cache';
import type { Logger } from '@sluice/observability';
import type { ProfileDirectory } from './profile-directory.ts';

export interface Identity {
  readonly profileId: string;
  readonly sessionId: string;
}

export interface IdentityOptions {
  /** KEEP_SESSION_IN_CACHE_FOR: how long a session → profile binding lives after its last use, s. */
  readonly sessionTtlSeconds: number;
  /** Counts the requests resolved without the cache (it failed or did not answer in time). */
  readonly onDegraded: () => void;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Resolves who sent a request.
 * - A profile id from the client is used, and the session is bound to it.
 * - Without one, the session's bound profile is used. A session seen for the first time
 *   gets the profile id derived from its source and session (`sessionProfileId`), claimed
 *   atomically: concurrent first requests of one session, on any replicas, all get the same
 *   profile (the race of Tracardi issue #652 cannot happen), and would even if they missed
 *   each other's claim.
 * - Without a session id, a new session (and profile) is started.
 * - Either way, a profile that was merged resolves to the profile it was merged into
 *   (ProfileDirectory), and the session is bound to that one.
 *
 * When the cache fails (down, or slower than its command timeout) identity degrades and the
 * request goes on: a client's profile id is used as given, otherwise the session's derived
 * profile id, without following merges. Only sessions bound to another profile than their
 * derived one, and merged profiles, resolve differently while the cache is down. Nothing is
 * written then; the first request after the cache is back binds the session again.
 */
export class IdentityResolver {
  private readonly cache: ProfileCache;
  private readonly directory: ProfileDirectory;
  private readonly options: IdentityOptions;
  /** Whether the last cache call failed: the switch is logged once each way, not per request. */
  private degraded = false;

  constructor(cache: ProfileCache, directory: ProfileDirectory, options: IdentityOptions) {
    this.cache = cache;
    this.directory = directory;
    this.options = options;
  }

  async resolve(payload: TrackPayload): Promise<Identity> {
    const sourceId = payload.source.id;
    const sessionId = payload.session?.id ?? newProfileId();
    const givenProfile = payload.profile?.id;
    const key = sessionKey(sourceId, sessionId);
    try {
      let profileId: string;
      if (givenProfile !== undefined) profileId = await this.given(key, givenProfile);
      // A session this request starts (random id) is new, and so is its derived profile:
      // nothing can be bound to it or merged yet.
      else if (payload.session?.id === undefined) profileId = await this.cache.claim(key, sessionProfileId(sourceId, sessionId), this.options.sessionTtlSeconds);
      else profileId = await this.bound(key, sessionProfileId(sourceId, sessionId));
      if (this.degraded) this.recovered();
      return { profileId, sessionId };
    } catch (error) {
      this.degrade(error);
      return { profileId: givenProfile ?? sessionProfileId(sourceId, sessionId), sessionId };
    }
  }

  /** Binds the session to the client's profile, or to the one it was merged into. */
  private async given(key: string, profileId: string): Promise<string> {
    const ttl = this.options.sessionTtlSeconds;
    // Both in one tick: on Redis, one round trip.
    const [, resolved] = await Promise.all([this.cache.set(key, profileId, ttl), this.directory.resolve(profileId)]);
    if (resolved !== profileId) await this.cache.set(key, resolved, ttl);
    return resolved;
  }

  /**
   * The session's profile: its binding, else `derived` claimed for it; merges followed. The
   * derived profile is resolved beside the claim (one round trip), as it is the usual winner.
   */
  private async bound(key: string, derived: string): Promise<string> {
    const ttl = this.options.sessionTtlSeconds;
    const [winner, resolvedDerived] = await Promise.all([this.cache.claim(key, derived, ttl), this.directory.resolve(derived)]);
    const resolved = winner === derived ? resolvedDerived : await this.directory.resolve(winner);
    if (resolved !== winner) await this.cache.set(key, resolved, ttl);
    return resolved;
  }

  private degrade(error: unknown): void {
    this.options.onDegraded();
    if (this.degraded) return;
    this.degraded = true;
    this.options.logger.warn({ err: error }, 'the profile cache failed: identity is resolved without it (the client\'s profile id, or the session\'s derived one) until it answers again');
  }

  private recovered(): void {
    this.degraded = false;
    this.options.logger.info('the profile cache answers again: identity is resolved through it');
  }
}

/**
 * A session belongs to its source: the key holds both (ids cannot contain `/`), so no
 * source can read or rebind another source's session through a shared session id.
 */
const sessionKey = (sourceId: string, sessionId: string) => `session:${sourceId}/${sessionId}`;
