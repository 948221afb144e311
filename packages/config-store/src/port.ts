import type { HealthCheck } from '@sluice/observability';

/** An event source: the credential a website or SDK sends as `source.id`. */
export interface EventSource {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Origins browsers may send from (`https://shop.example`), or `*` for any. Empty: no browser origin. */
  readonly allowedOrigins: readonly string[];
  /** Events per second this source may send (the API's rate limiter); null: the TRACK_RATE_LIMIT default. */
  readonly rateLimit: number | null;
  /** Whether /track takes events whose `type` is not a configured event type (false: 422 EVENT_TYPE_UNKNOWN). */
  readonly allowUnknownEventTypes: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewEventSource {
  readonly id: string;
  readonly name: string;
  readonly enabled?: boolean;
  readonly allowedOrigins?: readonly string[];
  /** Default null (the TRACK_RATE_LIMIT default). */
  readonly rateLimit?: number | null;
  /** Default true. */
  readonly allowUnknownEventTypes?: boolean;
}

export type EventSourcePatch = Partial<Pick<EventSource, 'name' | 'enabled' | 'allowedOrigins' | 'rateLimit' | 'allowUnknownEventTypes'>>;

/** What /track does with an event its type's schema refuses. */
export type InvalidEventPolicy = 'reject' | 'dead-letter';

/**
 * An event type: events whose `type` equals `name` are checked against `schema` (a JSON
 * Schema of the event's `properties`) while `enabled`. `version` grows by one on every
 * change, so a compiled schema is cached per (name, version) and a change reaches every
 * replica as a new version.
 */
export interface EventType {
  readonly name: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12 or 07) of the event's `properties`; null: any properties. */
  readonly schema: Readonly<Record<string, unknown>> | null;
  /** A disabled type is still known (EVENT_TYPE_UNKNOWN does not apply) but its schema is not enforced. */
  readonly enabled: boolean;
  /** `reject`: the whole request answers 422 EVENT_INVALID. `dead-letter`: the other events are accepted, this one is dead-lettered with its reason. */
  readonly onInvalid: InvalidEventPolicy;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewEventType {
  readonly name: string;
  readonly description?: string;
  readonly schema?: Readonly<Record<string, unknown>> | null;
  /** Default true. */
  readonly enabled?: boolean;
  /** Default `reject`. */
  readonly onInvalid?: InvalidEventPolicy;
}

export type EventTypePatch = Partial<Pick<EventType, 'description' | 'schema' | 'enabled' | 'onInvalid'>>;

/** A setting: a JSON value under a name. */
export interface Setting {
  readonly key: string;
  readonly value: unknown;
  readonly updatedAt: string;
}

/**
 * Everything the tracking path reads, at one revision: each replica holds one in memory
 * and refreshes it in the background (apps/api `SourceResolver`).
 */
export interface ConfigSnapshot {
  /** The store's revision when the snapshot was read (see ConfigStore.revision). */
  readonly revision: number;
  readonly sources: readonly EventSource[];
  readonly eventTypes: readonly EventType[];
}

/**
 * Where configuration lives: event sources, event types and settings. Every adapter
 * (embedded SQLite, MySQL) runs the same migrations and passes the same conformance suite.
 * Failures to reach the store throw retryable SluiceErrors (CONFIG_UNAVAILABLE, POOL_TIMEOUT).
 */
export interface ConfigStore extends HealthCheck {
  getSource(id: string): Promise<EventSource | undefined>;
  listSources(): Promise<EventSource[]>;
  /** Throws CONFLICT when the id exists. */
  createSource(source: NewEventSource): Promise<EventSource>;
  /** Returns undefined when there is no such source. */
  updateSource(id: string, patch: EventSourcePatch): Promise<EventSource | undefined>;
  /** Returns false when there was no such source. */
  deleteSource(id: string): Promise<boolean>;

  getEventType(name: string): Promise<EventType | undefined>;
  listEventTypes(): Promise<EventType[]>;
  /** Throws CONFLICT when the name exists. */
  createEventType(eventType: NewEventType): Promise<EventType>;
  /** Raises `version` by one. Returns undefined when there is no such type. */
  updateEventType(name: string, patch: EventTypePatch): Promise<EventType | undefined>;
  /** Returns false when there was no such type. */
  deleteEventType(name: string): Promise<boolean>;

  getSetting(key: string): Promise<Setting | undefined>;
  listSettings(): Promise<Setting[]>;
  /** Creates or replaces. */
  putSetting(key: string, value: unknown): Promise<Setting>;
  deleteSetting(key: string): Promise<boolean>;

  /**
   * A number that changes whenever a source or event type changes (one cheap read): a
   * cache reloads its snapshot only when it differs from the snapshot's.
   */
  revision(): Promise<number>;
  /** Every source and event type, with the revision read before them. */
  snapshot(): Promise<ConfigSnapshot>;
  close(): Promise<void>;
}
