import { randomFillSync, randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

const RANDOM_BYTES_PER_ID = 16;
const POOL_IDS = 256;
const pool = Buffer.allocUnsafe(RANDOM_BYTES_PER_ID * POOL_IDS);
let poolOffset = pool.length;

/** 16 random bytes from a pool refilled 256 ids at a time (one CSPRNG call, not one per id). */
function randomBytesForId(): Uint8Array {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + RANDOM_BYTES_PER_ID);
  poolOffset += RANDOM_BYTES_PER_ID;
  return bytes;
}

/** A time-ordered id (UUIDv7) for events that come without one. */
export function newEventId(): string {
  return uuidv7({ random: randomBytesForId() });
}

/** A random id (UUIDv4) for new profiles and sessions. */
export function newProfileId(): string {
  return randomUUID();
}
