import type { TrackedEvent } from '@sluice/core';
import type { ProfileRecord, SessionRecord } from '@sluice/store';

/**
 * The profile and session updates a batch of stored events implies. Each update's version
 * is the newest event receive time (ms), so the store keeps the newest when two workers race.
 */
export function profileAndSessionUpdates(events: readonly TrackedEvent[]): { profiles: ProfileRecord[]; sessions: SessionRecord[] } {
  const profiles = new Map<string, ProfileRecord>();
  const sessions = new Map<string, SessionRecord>();
  for (const event of events) {
    const version = Date.parse(event.receivedAt);
    const profile = profiles.get(event.profileId);
    profiles.set(event.profileId, {
      id: event.profileId,
      firstSeen: earliest(profile?.firstSeen, event.time),
      lastSeen: profile === undefined || version >= profile.version ? event.time : profile.lastSeen,
      lastSessionId: profile === undefined || version >= profile.version ? event.sessionId : profile.lastSessionId,
      lastSourceId: profile === undefined || version >= profile.version ? event.sourceId : profile.lastSourceId,
      version: Math.max(version, profile?.version ?? 0),
    });
    const session = sessions.get(event.sessionId);
    sessions.set(event.sessionId, {
      id: event.sessionId,
      profileId: session === undefined || version >= session.version ? event.profileId : session.profileId,
      sourceId: event.sourceId,
      firstSeen: earliest(session?.firstSeen, event.time),
      lastSeen: session === undefined || event.time > session.lastSeen ? event.time : session.lastSeen,
      version: Math.max(version, session?.version ?? 0),
    });
  }
  return { profiles: [...profiles.values()], sessions: [...sessions.values()] };
}

function earliest(current: string | undefined, candidate: string): string {
  return current === undefined || candidate < current ? candidate : current;
}
