/**
 * The partition of a partitioned topic that a keyed message goes to, as Pulsar's producers
 * route it with `HashingScheme.JavaStringHash` (which the WebSocket producer asks for by
 * name): Java's `String.hashCode()` of the key over its UTF-16 code units, the sign bit
 * cleared, modulo the partitions. The grouping bus groups by it, so that a group lands on the
 * partition each of its messages would have gone to alone.
 */
export function partitionOfKey(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let hash = 0;
  for (let i = 0; i < key.length; i += 1) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return (hash & 0x7fffffff) % partitions;
}
