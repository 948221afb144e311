// Types of payload.js (plain JavaScript, so k6 can import it too).
import type { Scenario } from './scenario.js';
export interface Template {
  method: 'POST';
  path: string;
  auth: 'none' | 'basic-write-key';
  body: Record<string, unknown>;
  event: Record<string, unknown>;
  expectStatus: number;
  acceptedPath: string;
}
export type Templates = Record<string, Template>;
/** One request, ready to send: body is the JSON text. */
export interface BuiltRequest {
  name: string;
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
  batchSize: number;
  /** The ids of its events (as the templates' `{{eventId}}`), unique to the run. */
  eventIds: string[];
  expectStatus: number;
  acceptedPath: string;
}
export function base64Ascii(text: string): string;
export function expand(value: unknown, values: Record<string, unknown>, where: string): unknown;
export function createRequestBuilder(scenario: Scenario, templates: Templates, sources: readonly string[], random: () => number): { next(vu: number, iteration: number): BuiltRequest };
