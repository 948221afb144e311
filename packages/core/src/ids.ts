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

let lastMs = 0;
let sequence = 0;

/**
 * A time-ordered id (UUIDv7) for events that come without one; ids made in one process
 * are strictly increasing (a counter orders ids of the same millisecond).
 */
export function newEventId(): string {
  const random = randomBytesForId();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = (random[0] ?? 0) * 0x10000 + (random[1] ?? 0) * 0x100 + (random[2] ?? 0);
  } else sequence += 1;
  return uuidv7({ random, msecs: lastMs, seq: sequence });
}

/** A random id (UUIDv4) for new profiles and sessions. */
export function newProfileId(): string {
  return randomUUID();
}
