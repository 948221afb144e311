import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** A time-ordered id (UUIDv7) for events that come without one. */
export function newEventId(): string {
  return uuidv7();
}

/** A random id (UUIDv4) for new profiles and sessions. */
export function newProfileId(): string {
  return randomUUID();
}
