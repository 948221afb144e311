import { newProfileId, type TrackPayload } from '@sluice/core';
import type { ProfileCache } from '@sluice/cache';

export interface Identity {
  readonly profileId: string;
  readonly sessionId: string;
}

export interface IdentityOptions {
  readonly sessionTtlSeconds: number;
  readonly profileTtlSeconds: number;
}

/**
 * Resolves who sent a request.
 * - A profile id from the client is kept, and the session is bound to it.
 * - Without one, the session's bound profile is used; the first request of a session
 *   claims a new profile id atomically, so concurrent first requests of one session all
 *   get the same profile (the race of Tracardi issue #652 cannot happen).
 * - Without a session id, a new session (and profile) is started.
 */
export class IdentityResolver {
  private readonly cache: ProfileCache;
  private readonly options: IdentityOptions;

  constructor(cache: ProfileCache, options: IdentityOptions) {
    this.cache = cache;
    this.options = options;
  }

  async resolve(payload: TrackPayload): Promise<Identity> {
    const sessionId = payload.session?.id ?? newProfileId();
    const givenProfile = payload.profile?.id;
    if (givenProfile !== undefined) {
      await this.cache.set(sessionKey(payload.source.id, sessionId), givenProfile, this.options.sessionTtlSeconds);
      return { profileId: givenProfile, sessionId };
    }
    const profileId = await this.cache.claim(sessionKey(payload.source.id, sessionId), newProfileId(), this.options.sessionTtlSeconds);
    return { profileId, sessionId };
  }
}

/**
 * A session belongs to its source: the key holds both (ids cannot contain `/`), so no
 * source can read or rebind another source's session through a shared session id.
 */
const sessionKey = (sourceId: string, sessionId: string) => `session:${sourceId}/${sessionId}`;
