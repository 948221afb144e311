/**
 * Every index, alias, template, policy and snapshot name of one tenant, all from
 * configuration (the prefix: TENANT_NAME plus "-"), never from request data.
 */
export interface StoreNames {
  readonly eventsAlias: string;
  readonly eventsPattern: string;
  readonly firstEventsIndex: string;
  readonly profiles: string;
  readonly sessions: string;
  readonly profileMerges: string;
  readonly template: string;
  readonly policy: string;
  readonly snapshotPrefix: string;
  readonly snapshotPolicy: string;
  readonly allIndices: string;
}

export function storeNames(prefix: string): StoreNames {
  return {
    eventsAlias: `${prefix}sluice-events`,
    eventsPattern: `${prefix}sluice-events-*`,
    firstEventsIndex: `${prefix}sluice-events-000001`,
    profiles: `${prefix}sluice-profiles`,
    sessions: `${prefix}sluice-sessions`,
    profileMerges: `${prefix}sluice-profile-merges`,
    template: `${prefix}sluice-events`,
    policy: `${prefix}sluice-events`,
    snapshotPrefix: `${prefix}sluice-`,
    snapshotPolicy: `${prefix}sluice-snapshots`,
    allIndices: `${prefix}sluice-*`,
  };
}

/**
 * The `_id` of an event document: source id, "/", event id. An event id is unique within
 * its source only, so the source is part of the key: no source can pre-empt, overwrite or
 * read another source's event through an id. Source and event ids match
 * `^[A-Za-z0-9][A-Za-z0-9._:@-]*$` (no "/"), so the pair is unambiguous; at most
 * 128 + 1 + 128 bytes, well under Elasticsearch's 512-byte `_id` limit.
 */
export function eventDocumentId(event: { readonly sourceId: string; readonly id: string }): string {
  return `${event.sourceId}/${event.id}`;
}
