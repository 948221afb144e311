import type { estypes } from '@elastic/elasticsearch';

/**
 * How deep a `flattened` field may nest: at least the deepest body the API accepts
 * (TRACK_MAX_DEPTH, at most 64), so that every event the API accepts can be indexed
 * (Elasticsearch's default, 20, refused properties the API let through). Updatable on a
 * live index: `sluice init` puts it there.
 */
export const FLATTENED_DEPTH_LIMIT = 64;

/**
 * Strict mappings for Sluice's own fields; free-form `properties`, `context`, `device` and
 * `options` are one `flattened` field each, so no client can add mapped fields (Tracardi issue #215).
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
      properties: { type: 'flattened', ignore_above: 1024, depth_limit: FLATTENED_DEPTH_LIMIT },
      context: { type: 'flattened', ignore_above: 1024, depth_limit: FLATTENED_DEPTH_LIMIT },
      tags: { type: 'keyword' },
      metadata: {
        dynamic: 'strict',
        properties: { ip: { type: 'keyword' }, userAgent: { type: 'keyword', ignore_above: 512 }, origin: { type: 'keyword', ignore_above: 512 }, clientTimestamp: { type: 'keyword', ignore_above: 64 } },
      },
      // Tracardi's payload: its time object, the client device and the event's options.
      times: { dynamic: 'strict', properties: { create: { type: 'date' }, insert: { type: 'date' }, update: { type: 'date' } } },
      device: { type: 'flattened', ignore_above: 1024, depth_limit: FLATTENED_DEPTH_LIMIT },
      options: { type: 'flattened', ignore_above: 1024, depth_limit: FLATTENED_DEPTH_LIMIT },
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

export function profileMergeMappings(): estypes.MappingTypeMapping {
  return {
    dynamic: 'strict',
    properties: { from: { type: 'keyword' }, into: { type: 'keyword' }, mergedAt: { type: 'date' } },
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
