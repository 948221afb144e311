import { crc32 } from 'node:zlib';

/**
 * On-disk framing of one log record:
 *   u32 bodyLength | u32 crc32(body) | body
 *   body = u16 keyLength | key | u32 propertiesLength | properties JSON | payload
 * A torn or corrupt tail (short read or crc mismatch) marks the end of the valid log.
 */
export const HEADER_BYTES = 8;

export interface LogRecord {
  readonly key: string;
  readonly properties: Record<string, string>;
  readonly payload: Buffer;
}

export function encodeRecord(key: string, properties: Readonly<Record<string, string>> | undefined, payload: Uint8Array): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const propertyBytes = properties === undefined || Object.keys(properties).length === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify(properties), 'utf8');
  const bodyLength = 2 + keyBytes.length + 4 + propertyBytes.length + payload.length;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + bodyLength);
  let at = HEADER_BYTES;
  at = frame.writeUInt16BE(keyBytes.length, at);
  at += keyBytes.copy(frame, at);
  at = frame.writeUInt32BE(propertyBytes.length, at);
  at += propertyBytes.copy(frame, at);
  frame.set(payload, at);
  frame.writeUInt32BE(bodyLength, 0);
  frame.writeUInt32BE(crc32(frame.subarray(HEADER_BYTES)), 4);
  return frame;
}

export type DecodeResult = { kind: 'record'; record: LogRecord; frameLength: number } | { kind: 'incomplete' } | { kind: 'corrupt'; why: string };

/** Decodes the record at `offset` of `buffer`. */
export function decodeRecord(buffer: Buffer, offset: number): DecodeResult {
  if (buffer.length - offset < HEADER_BYTES) return { kind: 'incomplete' };
  const bodyLength = buffer.readUInt32BE(offset);
  const expectedCrc = buffer.readUInt32BE(offset + 4);
  if (bodyLength < 6) return { kind: 'corrupt', why: `body length ${bodyLength}` };
  const end = offset + HEADER_BYTES + bodyLength;
  if (end > buffer.length) return { kind: 'incomplete' };
  const body = buffer.subarray(offset + HEADER_BYTES, end);
  if (crc32(body) !== expectedCrc) return { kind: 'corrupt', why: 'crc mismatch' };
  const keyLength = body.readUInt16BE(0);
  const key = body.toString('utf8', 2, 2 + keyLength);
  const propertiesLength = body.readUInt32BE(2 + keyLength);
  const propertiesStart = 6 + keyLength;
  const properties = propertiesLength === 0 ? {} : (JSON.parse(body.toString('utf8', propertiesStart, propertiesStart + propertiesLength)) as Record<string, string>);
  const payload = Buffer.from(body.subarray(propertiesStart + propertiesLength));
  return { kind: 'record', record: { key, properties, payload }, frameLength: HEADER_BYTES + bodyLength };
}
