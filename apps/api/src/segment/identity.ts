import { SluiceError, anonymousProfileId, isSluiceError, userProfileId } from '@sluice/core';
import type { Logger } from '@sluice/observability';
import type { ProfileDirectory } from '../profile-directory.ts';
import type { SegmentDraft } from './mapping.ts';

/** Why an `identify` or `alias` merged nothing although it named two ids. */
export type MergeRefusal = 'already-merged' | 'conflict' | 'blank-id';

export interface SegmentIdentityOptions {
  /** Counts the events resolved without the cache (it failed): their derived profile is used, merges not followed. */
  readonly onDegraded: () => void;
  /** Counts the merges an identify or alias asked for and that were not made. */
  readonly onMergeRefused: (reason: MergeRefusal) => void;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Who a Segment event belongs to. Profiles are derived, never looked up: a `userId`'s is
 * `userProfileId(userId)` (tenant-wide), an `anonymousId`'s `anonymousProfileId(source,
 * anonymousId)` (per source), the same on every replica; merges (ProfileDirectory) then say
 * where each lives now.
 * - An event goes to its user's profile when it has a usable `userId`, else to its anonymous
 *   profile — each resolved through merges.
 * - `identify` with both ids merges the anonymous profile into the user's, unless the
 *   anonymous profile was merged into another profile already (it was identified as someone
 *   else: never merge two users' profiles through identify, PostHog's rule) — then nothing is
 *   merged, the refusal is counted, and the event is stored on the user's profile.
 * - `alias(previousId, userId)` merges previousId's profile into userId's. previousId is read
 *   as a user id (server SDKs alias an old user id to a new one; an anonymous id is per
 *   source and is bound by identify), except when it equals the message's own `anonymousId`
 *   — analytics.js's default for a visitor never identified — then as that anonymous id.
 * Merges are decided in order, so a batch's later events see its earlier identifies.
 */
export class SegmentIdentity {
  private readonly directory: ProfileDirectory;
  private readonly options: SegmentIdentityOptions;
  private degraded = false;

  constructor(directory: ProfileDirectory, options: SegmentIdentityOptions) {
    this.directory = directory;
    this.options = options;
  }

  /** A resolver for one request of `sourceId`, remembering what it resolved (one cache read per profile per request). */
  forRequest(sourceId: string): RequestIdentity {
    return new RequestIdentity(this, sourceId);
  }

  /** The profile `id` lives in now; its own id while the cache fails (identity degrades, the event is never refused for it). */
  async resolve(id: string): Promise<string> {
    try {
      const resolved = await this.directory.resolve(id);
      if (this.degraded) {
        this.degraded = false;
        this.options.logger.info('the profile cache answers again: Segment identities follow merges again');
      }
      return resolved;
    } catch (error) {
      this.options.onDegraded();
      if (!this.degraded) this.options.logger.warn({ err: error }, 'the profile cache failed: Segment events go to their derived profiles, merges not followed, until it answers again');
      this.degraded = true;
      return id;
    }
  }

  /**
   * Merges `from` into `into` unless `from` was merged elsewhere. Answers whether it merged,
   * or why not. A store that cannot record the merge answers STORE_UNAVAILABLE (503): the
   * SDK retries the batch, and the message ids keep its events stored once.
   */
  async merge(from: string, into: string, resolvedFrom: string, resolvedInto: string): Promise<MergeRefusal | 'merged' | 'same'> {
    if (resolvedFrom === resolvedInto) return 'same';
    if (resolvedFrom !== from) return this.refused('already-merged');
    try {
      await this.directory.merge(from, into);
      return 'merged';
    } catch (error) {
      if (isSluiceError(error) && (error.code === 'CONFLICT' || error.code === 'VALIDATION_FAILED')) return this.refused('conflict');
      throw new SluiceError('STORE_UNAVAILABLE', 'the store could not record a profile merge; send the batch again', { cause: error });
    }
  }

  refused(reason: MergeRefusal): MergeRefusal {
    this.options.onMergeRefused(reason);
    return reason;
  }
}

/** Identity decisions of one request, in order. */
export class RequestIdentity {
  private readonly identity: SegmentIdentity;
  private readonly sourceId: string;
  private readonly resolved = new Map<string, string>();

  constructor(identity: SegmentIdentity, sourceId: string) {
    this.identity = identity;
    this.sourceId = sourceId;
  }

  /** The profile of a mapped event, after applying its identify or alias merge. Call in the request's order. */
  async profileOf(draft: SegmentDraft): Promise<string> {
    const user = draft.userId === undefined ? undefined : userProfileId(draft.userId);
    const anonymous = draft.anonymousId === undefined ? undefined : anonymousProfileId(this.sourceId, draft.anonymousId);
    if (draft.type === 'identify' && user !== undefined && anonymous !== undefined) await this.mergeInto(anonymous, user);
    if (draft.type === 'alias' && user !== undefined) {
      if (draft.previousId === undefined) this.identity.refused('blank-id');
      else await this.mergeInto(draft.previousId === draft.anonymousId && anonymous !== undefined ? anonymous : userProfileId(draft.previousId), user);
    }
    // The mapping refused events with neither id.
    return this.resolve(user ?? anonymous ?? '');
  }

  /** The profile of an event that is not tracked (dead-lettered): resolved, but its identify or alias merges nothing. */
  async profileWithoutMerges(draft: SegmentDraft): Promise<string> {
    const id = draft.userId === undefined ? anonymousProfileId(this.sourceId, draft.anonymousId ?? '') : userProfileId(draft.userId);
    return this.resolve(id);
  }

  private async mergeInto(from: string, into: string): Promise<void> {
    const [resolvedFrom, resolvedInto] = await Promise.all([this.resolve(from), this.resolve(into)]);
    const outcome = await this.identity.merge(from, into, resolvedFrom, resolvedInto);
    if (outcome === 'merged') this.resolved.set(from, resolvedInto);
  }

  private async resolve(id: string): Promise<string> {
    const known = this.resolved.get(id);
    if (known !== undefined) return known;
    const resolved = await this.identity.resolve(id);
    this.resolved.set(id, resolved);
    return resolved;
  }
}
