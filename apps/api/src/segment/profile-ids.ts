import type { EventReader, ProfileMerges } from '@sluice/store';
import { BLANK_ID_COUNT, usable } from './mapping.ts';

/** A profile's Segment ids, as the read API shows them. */
export interface SegmentProfileIds {
  readonly anonymousIds: string[];
  readonly userIds: string[];
}

/** Most ids of each kind listed for one profile. */
export const PROFILE_IDS_LIMIT = 100;
/** Most merged-in profiles whose events count (beyond the profile itself). */
export const ABSORBED_PROFILES_LIMIT = 100;
/** Deepest chain of merges followed back: the directory refuses merges into chains longer than 8 (profile-directory.ts). */
const MAX_MERGE_DEPTH = 8;

/**
 * The Segment ids a profile is known by — the `anonymousId`s and `userId`s of its events and
 * of the events of every profile merged into it (directly or through a chain) — derived at
 * read time from what the store holds: each stored Segment event keeps the message's ids in
 * `context.segment` (mapping.ts), and merges are on record in the store (ProfileMerges). So
 * the answer is the same on SQLite and Elasticsearch, includes what a merge brought in, and
 * survives any cache flush: nothing here is read from, or written to, the cache.
 *
 * Bounded: at most PROFILE_IDS_LIMIT ids of each kind (in byte order: which ones show when
 * there are more is arbitrary but stable), gathered from the profile and at most
 * ABSORBED_PROFILES_LIMIT profiles merged into it, through chains of at most MAX_MERGE_DEPTH.
 * Blank ids (`null`, `anonymous` …: `usable`) are stored as sent but never listed.
 */
export async function segmentIdsOf(store: EventReader & ProfileMerges, profileId: string): Promise<SegmentProfileIds> {
  const profileIds = await withAbsorbed(store, profileId);
  // Blank ids sort among the real ones: ask for one more per blank spelling, so that the cap still holds after they are left out.
  const listed = (field: string) => store.contextValues({ profileIds, path: ['segment', field], limit: PROFILE_IDS_LIMIT + BLANK_ID_COUNT });
  const [anonymousIds, userIds] = await Promise.all([listed('anonymousId'), listed('userId')]);
  return { anonymousIds: usableOnly(anonymousIds), userIds: usableOnly(userIds) };
}

/** The profile and those merged into it, level by level (one query per profile of a level, in parallel). */
async function withAbsorbed(store: ProfileMerges, profileId: string): Promise<string[]> {
  const found = new Set([profileId]);
  let level = [profileId];
  for (let depth = 0; depth < MAX_MERGE_DEPTH && level.length > 0 && found.size <= ABSORBED_PROFILES_LIMIT; depth += 1) {
    const merges = await Promise.all(level.map((into) => store.getMergesInto(into, ABSORBED_PROFILES_LIMIT)));
    level = [];
    for (const merge of merges.flat()) {
      if (found.has(merge.from) || found.size > ABSORBED_PROFILES_LIMIT) continue;
      found.add(merge.from);
      level.push(merge.from);
    }
  }
  return [...found];
}

function usableOnly(ids: readonly string[]): string[] {
  return ids.flatMap((id) => (usable(id) === undefined ? [] : [id])).slice(0, PROFILE_IDS_LIMIT);
}
