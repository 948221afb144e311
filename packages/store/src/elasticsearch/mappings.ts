import type { estypes } from '@elastic/elasticsearch';

/**
 * Strict mappings for Sluice's own fields; free-form `properties` and `context` are one
 * `flattened` field each, so no client can add mapped fields (Tracardi issue #215).
 */
export function eventsMappings(): estypes.MappingTypeMapping {
  return {
    dynamic: 'strict',
    properties: {
      id: { type: 'keyword' },
      type: { type: 'keyword' },
      sourceId: { type: 'keyword' },
      sessionId: { type: 'keyword' },
      profileId: { type: 'keyword' },
      time: { type: 'date' },
      receivedAt: { type: 'date' },
      properties: { type: 'flattened', ignore_above: 1024 },
      context: { type: 'flattened', ignore_above: 1024 },
      tags: { type: 'keyword' },
      metadata: {
        dynamic: 'strict',
        properties: { ip: { type: 'keyword' }, userAgent: { type: 'keyword', ignore_above: 512 }, origin: { type: 'keyword', ignore_above: 512 } },
      },
    },
  };
}

export function profileMappings(): estypes.MappingTypeMapping {
  return {
    dynamic: 'strict',
    properties: {
      id: { type: 'keyword' },
      firstSeen: { type: 'date' },
      lastSeen: { type: 'date' },
      lastSessionId: { type: 'keyword' },
      lastSourceId: { type: 'keyword' },
      version: { type: 'long' },
    },
  };
}

export function sessionMappings(): estypes.MappingTypeMapping {
  return {
    dynamic: 'strict',
    properties: {
      id: { type: 'keyword' },
      profileId: { type: 'keyword' },
      sourceId: { type: 'keyword' },
      firstSeen: { type: 'date' },
      lastSeen: { type: 'date' },
      version: { type: 'long' },
    },
  };
}
