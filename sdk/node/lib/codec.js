'use strict';
/**
 * Strict MessagePack framing for the plugin protocol (PROTOCOL.md §3.1).
 *
 * Values are encoded and decoded by @msgpack/msgpack. What that library does
 * not do is say where one message of a plain stream ends before it is whole,
 * refuse extension types and non-string keys at the byte level, or stop a
 * 16 MiB flood before buffering it. A small resumable scanner walks each
 * message's headers for that; it never revisits bytes it already checked, so
 * a big message arriving in many chunks costs linear time.
 */
const { Encoder, decode } = require('@msgpack/msgpack');
const { MAX_MESSAGE_SIZE } = require('./constants');

/** A byte-level or shape-level breach of the strict decoding rules. */
class ProtocolViolation extends Error {
  /**
   * @param {string} reason what rule was broken
   * @param {Uint8Array} [offending] bytes to quote (at most 64 kept)
   * @param {{requestId?: number}} [extra] id of a well-formed request, when known
   */
  constructor(reason, offending = new Uint8Array(0), extra = {}) {
    const quoted = Buffer.from(offending.subarray(0, 64)).toString('hex');
    super(quoted ? `${reason} (bytes: ${quoted})` : reason);
    this.name = 'ProtocolViolation';
    this.reason = reason;
    this.offending = Buffer.from(offending.subarray(0, 64));
    this.requestId = extra.requestId;
  }
}

const encoder = new Encoder({ ignoreUndefined: true });
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Encode one value (a whole message array) to wire bytes. */
function encode(value) {
  return Buffer.from(encoder.encode(value));
}

function strictKey(key) {
  if (typeof key !== 'string') {
    throw new ProtocolViolation(`map key ${JSON.stringify(key)} is not a string`);
  }
  return key;
}

/** Decode exactly one complete, already-scanned message. */
function decodeOne(bytes) {
  return decode(bytes, { mapKeyConverter: strictKey });
}

/**
 * How a header byte reads: [headerLength, kind, count-or-length-reader].
 * kind: 'scalar' (fixed size), 'str', 'bin', 'array', 'map', 'ext', 'bad'.
 */
function classify(buf, p) {
  const b = buf[p];
  if (b <= 0x7f || b >= 0xe0) return { h: 1, kind: 'scalar', n: 0 };
  if (b <= 0x8f) return { h: 1, kind: 'map', n: b & 0x0f };
  if (b <= 0x9f) return { h: 1, kind: 'array', n: b & 0x0f };
  if (b <= 0xbf) return { h: 1, kind: 'str', n: b & 0x1f };
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return { h: 1, kind: 'scalar', n: 0 };
    case 0xc1: return { h: 1, kind: 'bad', n: 0 };
    case 0xc4: return { h: 2, kind: 'bin', len: 1 };
    case 0xc5: return { h: 3, kind: 'bin', len: 2 };
    case 0xc6: return { h: 5, kind: 'bin', len: 4 };
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      return { h: 1, kind: 'ext', n: 0 };
    case 0xca: return { h: 5, kind: 'scalar', n: 0 };
    case 0xcb: return { h: 9, kind: 'scalar', n: 0 };
    case 0xcc: case 0xd0: return { h: 2, kind: 'scalar', n: 0 };
    case 0xcd: case 0xd1: return { h: 3, kind: 'scalar', n: 0 };
    case 0xce: case 0xd2: return { h: 5, kind: 'scalar', n: 0 };
    case 0xcf: case 0xd3: return { h: 9, kind: 'scalar', n: 0 };
    case 0xd9: return { h: 2, kind: 'str', len: 1 };
    case 0xda: return { h: 3, kind: 'str', len: 2 };
    case 0xdb: return { h: 5, kind: 'str', len: 4 };
    case 0xdc: return { h: 3, kind: 'array', len: 2 };
    case 0xdd: return { h: 5, kind: 'array', len: 4 };
    case 0xde: return { h: 3, kind: 'map', len: 2 };
    case 0xdf: return { h: 5, kind: 'map', len: 4 };
    default: return { h: 1, kind: 'bad', n: 0 };
  }
}

function readLen(buf, p, size) {
  if (size === 1) return buf[p];
  if (size === 2) return buf.readUInt16BE(p);
  return buf.readUInt32BE(p);
}

/**
 * Feed it bytes; it returns every complete message as a decoded value.
 * Throws ProtocolViolation on the first breach; after that it is dead.
 */
class StrictDecoder {
  constructor(maxSize = MAX_MESSAGE_SIZE) {
    this.maxSize = maxSize;
    this._buf = Buffer.alloc(0);
    this._len = 0; // bytes in _buf that are valid
    this._start = 0; // start of the message being scanned
    this._pos = 0; // next unscanned byte
    this._stack = []; // [{left: items still expected, map: bool, key: next is a key}]
    this._begun = false;
  }

  /** Bytes received that do not yet form a whole message. */
  get pending() {
    return this._len - this._start;
  }

  _append(chunk) {
    const need = this._len + chunk.length;
    if (need > this._buf.length) {
      // Drop consumed bytes, then grow by doubling so appends stay amortized O(1).
      const live = this._buf.subarray(this._start, this._len);
      const next = Buffer.allocUnsafe(Math.max(need - this._start, live.length * 2, 4096));
      live.copy(next, 0);
      this._pos -= this._start;
      this._len -= this._start;
      this._start = 0;
      this._buf = next;
    }
    chunk.copy ? chunk.copy(this._buf, this._len) : this._buf.set(chunk, this._len);
    this._len += chunk.length;
  }

  /**
   * @param {Uint8Array} chunk bytes as read from the stream
   * @returns {unknown[]} decoded values of the messages this chunk completed
   */
  feed(chunk) {
    this._append(chunk);
    const out = [];
    while (this._len > this._start) {
      const end = this._scan();
      if (end < 0) break;
      // A private copy: decoded bin values are views into the bytes decoded.
      const bytes = Buffer.from(this._buf.subarray(this._start, end));
      let value;
      try {
        value = decodeOne(bytes);
      } catch (err) {
        if (err instanceof ProtocolViolation) throw new ProtocolViolation(err.reason, bytes);
        throw new ProtocolViolation(`invalid MessagePack (${err.message})`, bytes);
      }
      out.push({ value, bytes });
      this._start = end;
      this._pos = end;
      this._begun = false;
    }
    return out;
  }

  /** Declare end of stream; a partial message left over is a violation. */
  close() {
    if (this.pending > 0) {
      throw new ProtocolViolation(
        `stream ended inside a message (${this.pending} bytes pending)`,
        this._buf.subarray(this._start, this._len),
      );
    }
  }

  _fail(reason) {
    throw new ProtocolViolation(reason, this._buf.subarray(this._start, Math.min(this._len, this._start + 64)));
  }

  _tooBig(end) {
    if (end - this._start > this.maxSize) {
      this._fail(`message larger than the ${this.maxSize}-byte cap`);
    }
  }

  /** Advance over complete items; return the message end, or -1 if incomplete. */
  _scan() {
    const buf = this._buf;
    const stack = this._stack;
    if (!this._begun) {
      stack.length = 0;
      stack.push({ left: 1, map: false, key: false });
      this._begun = true;
    }
    for (;;) {
      const top = stack[stack.length - 1];
      if (top.left === 0) {
        stack.pop();
        if (stack.length === 0) return this._pos;
        continue;
      }
      const p = this._pos;
      if (p >= this._len) return -1;
      const c = classify(buf, p);
      if (c.kind === 'bad') this._fail(`invalid MessagePack byte 0x${buf[p].toString(16)}`);
      if (c.kind === 'ext') this._fail('MessagePack extension types are not allowed');
      if (top.map && top.key && c.kind !== 'str') this._fail('map key is not a string');
      this._tooBig(p + c.h);
      if (p + c.h > this._len) return -1;
      let n = c.n;
      if (c.len) n = readLen(buf, p + 1, c.len);
      let end = p + c.h;
      if (c.kind === 'str' || c.kind === 'bin') {
        end += n;
        this._tooBig(end);
        if (end > this._len) return -1;
        if (c.kind === 'str') {
          try {
            utf8.decode(buf.subarray(p + c.h, end));
          } catch {
            this._fail('string is not valid UTF-8');
          }
        }
      }
      // The item is complete (or is a container header): count it.
      if (top.map) {
        if (!top.key) top.left -= 1;
        top.key = !top.key;
      } else {
        top.left -= 1;
      }
      this._pos = end;
      if (c.kind === 'array' && n > 0) stack.push({ left: n, map: false, key: false });
      if (c.kind === 'map' && n > 0) stack.push({ left: n, map: true, key: true });
    }
  }
}

module.exports = { StrictDecoder, ProtocolViolation, encode, decodeOne };
