import type { estypes } from '@elastic/elasticsearch';

/** The events lifecycle, from the environment (ELASTIC_ROLLOVER_*, ELASTIC_*_AFTER, EVENTS_RETENTION). */
export interface LifecycleSettings {
  /** `ilm`: an ILM policy; `sluice`: Sluice's job; `auto`: ILM where the cluster has it; `off`: nothing. */
  readonly mode: 'auto' | 'ilm' | 'sluice' | 'off';
  readonly rollover: { readonly maxPrimaryShardSizeBytes: number; readonly maxAgeMs: number; readonly maxDocs: number };
  /** Times after rollover; 0 skips the phase. */
  readonly warmAfterMs: number;
  readonly coldAfterMs: number;
  /** 0: never deleted. */
  readonly deleteAfterMs: number;
  /** Segments per shard in warm; 0: no forcemerge. */
  readonly forcemergeSegments: number;
}

/** Tier preferences as ILM's migrate action sets them. */
export const TIER_PREFERENCE = { warm: 'data_warm,data_hot', cold: 'data_cold,data_warm,data_hot' } as const;

/** Milliseconds as an Elasticsearch time value, in the largest unit that divides it. */
export function esTime(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${String(ms / size)}${unit}`;
  }
  return `${String(ms)}ms`;
}

/** Bytes as an Elasticsearch byte size, in the largest unit that divides it. */
export function esBytes(bytes: number): string {
  for (const [unit, size] of [['tb', 1024 ** 4], ['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${String(bytes / size)}${unit}`;
  }
  return `${String(bytes)}b`;
}

export function rolloverConditions(settings: LifecycleSettings): { max_age: string; max_docs: number; max_primary_shard_size: string } {
  return { max_age: esTime(settings.rollover.maxAgeMs), max_docs: settings.rollover.maxDocs, max_primary_shard_size: esBytes(settings.rollover.maxPrimaryShardSizeBytes) };
}

/**
 * The ILM policy of the events indices: rollover in hot; read-only, forcemerge and migration
 * to warm nodes; migration to cold nodes; deletion after the retention. Phases set to 0 are
 * left out (ILM's migrate action moves indices between tiers by itself).
 */
export function ilmPolicy(settings: LifecycleSettings): estypes.IlmPolicy {
  const phases: estypes.IlmPhases = {
    hot: { min_age: '0ms', actions: { rollover: rolloverConditions(settings), set_priority: { priority: 100 } } },
  };
  if (settings.warmAfterMs > 0) {
    phases.warm = {
      min_age: esTime(settings.warmAfterMs),
      actions: { readonly: {}, set_priority: { priority: 50 }, ...(settings.forcemergeSegments > 0 ? { forcemerge: { max_num_segments: settings.forcemergeSegments } } : {}) },
    };
  }
  if (settings.coldAfterMs > 0) phases.cold = { min_age: esTime(settings.coldAfterMs), actions: { readonly: {}, set_priority: { priority: 0 } } };
  if (settings.deleteAfterMs > 0) phases.delete = { min_age: esTime(settings.deleteAfterMs), actions: { delete: {} } };
  return { phases, _meta: { managed_by: 'sluice' } };
}

/** What Sluice's own lifecycle needs to know of one events index. */
export interface EventsIndexState {
  readonly name: string;
  readonly createdAt: number;
  readonly isWriteIndex: boolean;
  readonly tierPreference: string | undefined;
  readonly writeBlocked: boolean;
}

export type LifecycleAction =
  | { readonly kind: 'rollover'; readonly index: string; readonly next: string }
  | { readonly kind: 'warm'; readonly index: string }
  | { readonly kind: 'cold'; readonly index: string }
  | { readonly kind: 'delete'; readonly index: string };

const PHASE_ORDER = { hot: 0, warm: 1, cold: 2 } as const;

function phaseOf(index: EventsIndexState): number {
  if (index.tierPreference === TIER_PREFERENCE.cold) return PHASE_ORDER.cold;
  if (index.tierPreference === TIER_PREFERENCE.warm) return PHASE_ORDER.warm;
  return PHASE_ORDER.hot;
}

/** `…-000041` → `…-000042` (the rollover API's own naming, made explicit). */
export function nextIndexName(index: string): string {
  const match = /^(.*-)(\d+)$/.exec(index);
  if (!match) throw new Error(`${index} does not end in a generation number`);
  const [, stem = '', generation = '0'] = match;
  return `${stem}${String(Number(generation) + 1).padStart(Math.max(6, generation.length), '0')}`;
}

/**
 * Sluice's lifecycle pass, planned from the indices as they are (no state of its own): an
 * index's rollover time is the creation time of the next generation. The write index is
 * offered a rollover (Elasticsearch checks the conditions); each older index takes the
 * furthest phase its age reached and it is not in yet. Every action is idempotent, and the
 * rollover names its target, so two passes at once cannot roll over twice.
 */
export function planLifecycle(indices: readonly EventsIndexState[], now: number, settings: LifecycleSettings): LifecycleAction[] {
  const sorted = [...indices].sort((a, b) => a.name.localeCompare(b.name));
  const actions: LifecycleAction[] = [];
  sorted.forEach((index, position) => {
    if (index.isWriteIndex) {
      actions.push({ kind: 'rollover', index: index.name, next: nextIndexName(index.name) });
      return;
    }
    const successor = sorted[position + 1];
    if (successor === undefined) return; // not rolled over (yet): leave it alone
    const age = now - successor.createdAt;
    if (settings.deleteAfterMs > 0 && age >= settings.deleteAfterMs) {
      actions.push({ kind: 'delete', index: index.name });
      return;
    }
    const target = settings.coldAfterMs > 0 && age >= settings.coldAfterMs ? 'cold' : settings.warmAfterMs > 0 && age >= settings.warmAfterMs ? 'warm' : 'hot';
    // Only forward: an index an operator (or a shorter setting) put further along stays there.
    if (PHASE_ORDER[target] > phaseOf(index)) actions.push({ kind: target as 'warm' | 'cold', index: index.name });
  });
  return actions;
}
