'use strict';
// Replays protocol/vectors/vectors.json byte for byte: the same file the
// Python codec replays, so the two SDKs cannot drift apart.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { StrictDecoder, ProtocolViolation, encode, toMessage } = require('../lib');

const FILE = path.join(__dirname, '..', '..', '..', 'protocol', 'vectors', 'vectors.json');
const suite = JSON.parse(fs.readFileSync(FILE, 'utf8'));

/** JSON form -> the values the SDK encodes ({"$bin": hex} -> bytes). */
function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$bin') return Uint8Array.from(Buffer.from(v.$bin, 'hex'));
    return Object.fromEntries(keys.map((k) => [k, fromJson(v[k])]));
  }
  return v;
}

/** Decoded values -> comparable plain data (bytes as Uint8Array). */
function normalize(v) {
  if (ArrayBuffer.isView(v)) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

test('the vector file is for protocol 1 and has valid and invalid cases', () => {
  assert.equal(suite.protocol_version, 1);
  assert.ok(suite.vectors.filter((v) => v.valid).length >= 30);
  assert.ok(suite.vectors.filter((v) => !v.valid).length >= 10);
});

for (const v of suite.vectors.filter((x) => x.valid)) {
  test(`valid ${v.name}: encode(decoded) == hex, decode(hex) == decoded`, () => {
    const expected = fromJson(v.decoded);
    // Decode-only vectors (another integer encoding, another key order) are
    // accepted, but an encoder need not produce their bytes (PROTOCOL.md §3.2).
    if (v.exact_encoding !== false) assert.equal(encode(expected).toString('hex'), v.hex);
    const d = new StrictDecoder();
    const frames = d.feed(Buffer.from(v.hex, 'hex'));
    d.close();
    assert.equal(frames.length, 1);
    assert.deepEqual(normalize(frames[0].value), normalize(expected));
    const msg = toMessage(frames[0].value, frames[0].bytes);
    assert.equal(msg.kind, v.kind);
  });
}

/** What a plugin does on these bytes: 'violation', 'violation-at-eof' or 'invalid-request'. */
function reactionTo(hex) {
  const d = new StrictDecoder();
  let frames;
  try {
    frames = d.feed(Buffer.from(hex, 'hex'));
  } catch (err) {
    assert.ok(err instanceof ProtocolViolation);
    return { reaction: 'violation', err };
  }
  if (frames.length === 0) {
    assert.throws(() => d.close(), ProtocolViolation);
    return { reaction: 'violation-at-eof' };
  }
  // The endpoint stops at the first bad message, as the reading side does.
  for (const f of frames) {
    try {
      toMessage(f.value, f.bytes);
    } catch (err) {
      assert.ok(err instanceof ProtocolViolation);
      if (err.requestId !== undefined) return { reaction: 'invalid-request', id: err.requestId, err };
      return { reaction: 'violation', err };
    }
  }
  assert.fail(`${hex} was accepted`);
  return null;
}

for (const v of suite.vectors.filter((x) => !x.valid)) {
  test(`invalid ${v.name}: rejected with reaction ${v.reaction}`, () => {
    const got = reactionTo(v.hex);
    assert.equal(got.reaction, v.reaction);
    if (got.err) assert.match(got.err.message, /\(bytes: [0-9a-f]+\)/);
    if (got.reaction === 'invalid-request') assert.equal(got.id, 1);
  });
}

test('valid vectors split at every byte boundary decode the same', () => {
  const all = Buffer.concat(suite.vectors.filter((x) => x.valid).map((x) => Buffer.from(x.hex, 'hex')));
  const d = new StrictDecoder();
  const values = [];
  for (let i = 0; i < all.length; i += 1) values.push(...d.feed(all.subarray(i, i + 1)).map((f) => f.value));
  d.close();
  assert.equal(values.length, suite.vectors.filter((x) => x.valid).length);
});
