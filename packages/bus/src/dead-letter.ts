import { encodeDeadLetter, messageDeadLetter } from '@sluice/core';
import { DEAD_LETTER_CODE, DEAD_LETTER_ORIGIN, DEAD_LETTER_REASON, type DeliveryFailure, type OutgoingMessage } from './port.ts';

/** Longest dead-letter reason kept in the message's headers (the body keeps it whole). */
const MAX_REASON_LENGTH = 1000;

/**
 * The dead letter of a message whose last delivery failed: a `message` DeadLetter (the
 * message byte for byte, its failure's code and reason, where it came from, how many
 * deliveries), keyed as the message was, with the code, reason and origin also as headers
 * for the bus's own tools. Every adapter builds its dead letters here, so the replay reads
 * one shape.
 */
export function deadLetterOf(message: { readonly key: string; readonly payload: Uint8Array; readonly properties?: Readonly<Record<string, string>> }, failure: DeliveryFailure, origin: string, attempts: number): OutgoingMessage {
  return {
    key: message.key,
    payload: encodeDeadLetter(messageDeadLetter(message, { ...failure, origin, attempts })),
    properties: { [DEAD_LETTER_REASON]: failure.reason.slice(0, MAX_REASON_LENGTH), [DEAD_LETTER_CODE]: failure.code, [DEAD_LETTER_ORIGIN]: origin },
  };
}
