import type { HealthCheck } from '@sluice/observability';

/** An event source: the credential a website or SDK sends as `source.id`. */
export interface EventSource {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Origins browsers may send from (`https://shop.example`), or `*` for any. Empty: no browser origin. */
  readonly allowedOrigins: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewEventSource {
  readonly id: string;
  readonly name: string;
  readonly enabled?: boolean;
  readonly allowedOrigins?: readonly string[];
}

export type EventSourcePatch = Partial<Pick<EventSource, 'name' | 'enabled' | 'allowedOrigins'>>;

/** Where configuration lives (event sources; event types and settings later). */
export interface ConfigStore extends HealthCheck {
  getSource(id: string): Promise<EventSource | undefined>;
  listSources(): Promise<EventSource[]>;
  /** Throws CONFLICT when the id exists. */
  createSource(source: NewEventSource): Promise<EventSource>;
  /** Returns undefined when there is no such source. */
  updateSource(id: string, patch: EventSourcePatch): Promise<EventSource | undefined>;
  /** Returns false when there was no such source. */
  deleteSource(id: string): Promise<boolean>;
  close(): Promise<void>;
}
