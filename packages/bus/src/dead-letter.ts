import { DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type OutgoingMessage } from './port.ts';

/** Longest dead-letter reason kept in the message's headers. */
const MAX_REASON_LENGTH = 1000;

/**
 * The dead letter of a message whose last delivery failed: the message as it was, plus why
 * (`reason`) and where it came from (`origin`: topic, position, deliveries). Every adapter
 * builds its dead letters here, so the replay reads one shape.
 */
export function deadLetterOf(message: { readonly key: string; readonly payload: Uint8Array; readonly properties?: Readonly<Record<string, string>> }, reason: string, origin: string): OutgoingMessage {
  return { key: message.key, payload: message.payload, properties: { ...message.properties, [DEAD_LETTER_REASON]: reason.slice(0, MAX_REASON_LENGTH), [DEAD_LETTER_ORIGIN]: origin } };
}
