/**
 * Pipeline steps return a typed outcome; only infrastructure failures throw.
 */
export type StepResult<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'dead-letter'; readonly code: string; readonly reason: string }
  | { readonly kind: 'drop'; readonly reason: string };

export const ok = <T>(value: T): StepResult<T> => ({ kind: 'ok', value });
export const deadLetter = (code: string, reason: string): StepResult<never> => ({ kind: 'dead-letter', code, reason });
export const drop = (reason: string): StepResult<never> => ({ kind: 'drop', reason });
