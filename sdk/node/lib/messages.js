'use strict';
/**
 * Message shapes of MessagePack-RPC as the spec fixes them (PROTOCOL.md §3):
 * request `[0, id, method, [params]]`, response `[1, id, error, result]`,
 * notification `[2, method, [params]]`. `toMessage` checks a decoded value
 * against them (rule 3) so the endpoint only ever sees well-formed messages.
 */
const { REQUEST, RESPONSE, NOTIFICATION, MAX_ID } = require('./constants');
const { ProtocolViolation, encode } = require('./codec');

function isId(v) {
  return Number.isInteger(v) && v >= 0 && v <= MAX_ID;
}

/**
 * Whether the id (element 1 of the array in `bytes`) was sent as a
 * MessagePack integer. JavaScript decodes the float 1.0 to the same number
 * as the integer 1, so the encoding is read from the header byte (§3.2).
 */
function idEncodedAsInteger(bytes) {
  if (!bytes || bytes.length < 3) return true; // no bytes to look at: built in-process
  const head = bytes[0];
  let at = 2; // fixarray header, then the kind (a positive fixint)
  if (head === 0xdc) at = 4;
  else if (head === 0xdd) at = 6;
  const b = bytes[at];
  return b !== 0xca && b !== 0xcb;
}

function isMap(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** `[]` or `[map]` -> the map; anything else -> null. */
function paramsOf(raw) {
  if (!Array.isArray(raw) || raw.length > 1) return null;
  if (raw.length === 0) return {};
  return isMap(raw[0]) ? raw[0] : null;
}

/**
 * Check one decoded value's shape.
 *
 * @param {unknown} value a decoded message
 * @param {Uint8Array} bytes its wire bytes, to quote in a violation
 * @returns {{kind: 'request', id: number, method: string, params: object}
 *   | {kind: 'response', id: number, error: object|null, result: unknown}
 *   | {kind: 'notification', method: string, params: object}}
 */
function toMessage(value, bytes) {
  if (!Array.isArray(value)) {
    throw new ProtocolViolation('a message must be an array', bytes);
  }
  const kind = value.length > 0 ? value[0] : undefined;
  if (kind === REQUEST && value.length === 4) {
    const [, id, method, raw] = value;
    const params = paramsOf(raw);
    const validId = isId(id) && idEncodedAsInteger(bytes);
    if (validId && typeof method === 'string' && params !== null) {
      return { kind: 'request', id, method, params };
    }
    throw new ProtocolViolation('malformed request: needs [0, uint32 id, str method, [map]]', bytes,
      { requestId: validId ? id : undefined });
  }
  if (kind === RESPONSE && value.length === 4) {
    const [, id, error, result] = value;
    if (isId(id) && idEncodedAsInteger(bytes) && (error === null || isMap(error))) {
      return { kind: 'response', id, error, result };
    }
    throw new ProtocolViolation('malformed response: needs [1, uint32 id, nil|map, result]', bytes);
  }
  if (kind === NOTIFICATION && value.length === 3) {
    const [, method, raw] = value;
    const params = paramsOf(raw);
    if (typeof method === 'string' && params !== null) {
      return { kind: 'notification', method, params };
    }
    throw new ProtocolViolation('malformed notification: needs [2, str method, [map]]', bytes);
  }
  // Only a 4-element request with a valid id is answered (InvalidRequest);
  // any other shape is a violation (protocol/vectors: request-too-short).
  throw new ProtocolViolation(
    `unknown message shape: kind ${JSON.stringify(kind) ?? 'none'} with ${value.length} elements`,
    bytes);
}

/** Wire bytes of a request. */
function encodeRequest(id, method, params) {
  return encode([REQUEST, id, method, [params ?? {}]]);
}

/** Wire bytes of a response; exactly one of error/result is meaningful. */
function encodeResponse(id, error, result) {
  return encode([RESPONSE, id, error ?? null, error ? null : (result ?? {})]);
}

/** Wire bytes of a notification. */
function encodeNotification(method, params) {
  return encode([NOTIFICATION, method, [params ?? {}]]);
}

module.exports = { toMessage, encodeRequest, encodeResponse, encodeNotification, isMap };
