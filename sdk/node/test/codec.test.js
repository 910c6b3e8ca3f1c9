'use strict';
// The strict decoder and the error mapping on their own: the rules of
// PROTOCOL.md §3.1 and §6 that the vectors do not spell out.
const test = require('node:test');
const assert = require('node:assert/strict');
const sdk = require('../lib');

const { StrictDecoder, ProtocolViolation, encode } = sdk;

test('an oversized message is refused from its header, before its bytes arrive', () => {
  const d = new StrictDecoder();
  // bin32 announcing 16 MiB + 1 byte inside a request: only 14 bytes are fed.
  const head = Buffer.from('940001a1789181a162c6', 'hex');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(16 * 1024 * 1024 + 1);
  assert.throws(() => d.feed(Buffer.concat([head, len])), /larger than the 16777216-byte cap/);
});

test('many small items adding up past the cap are refused too', () => {
  const d = new StrictDecoder(1000);
  const header = Buffer.from('dd00100000', 'hex'); // array32 of 1M items
  assert.throws(() => d.feed(Buffer.concat([header, Buffer.alloc(2000, 0x01)])), /cap/);
});

test('a message of exactly the cap is accepted', () => {
  const msg = encode([2, 'x', [{ m: 'a'.repeat(53) }]]);
  assert.equal(new StrictDecoder(msg.length).feed(msg).length, 1);
  assert.throws(() => new StrictDecoder(msg.length - 1).feed(msg), /cap/);
});

test('invalid UTF-8 in a string is a violation, bin values pass through', () => {
  assert.throws(() => new StrictDecoder().feed(Buffer.from('9302a1789181a161a2c328', 'hex')), /not valid UTF-8/);
  const frames = new StrictDecoder().feed(Buffer.from('9302a1789181a161c402c328', 'hex'));
  assert.deepEqual(Uint8Array.from(frames[0].value[2][0].a), Uint8Array.from([0xc3, 0x28]));
});

test('a large message arriving in 64 KiB chunks decodes in linear time', () => {
  const big = encode([2, '$/log', [{ level: 'info', message: 'x'.repeat(12 * 1024 * 1024) }]]);
  const d = new StrictDecoder();
  const started = process.hrtime.bigint();
  let frames = [];
  for (let i = 0; i < big.length; i += 65536) frames = frames.concat(d.feed(big.subarray(i, i + 65536)));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(frames.length, 1);
  assert.equal(frames[0].value[2][0].message.length, 12 * 1024 * 1024);
  assert.ok(ms < 5000, `took ${ms} ms`);
});

test('a violation quotes at most 64 bytes', () => {
  let err = null;
  try {
    new StrictDecoder().feed(Buffer.concat([Buffer.from('dc0100', 'hex'), Buffer.alloc(100, 0x01), Buffer.from('c1', 'hex')]));
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ProtocolViolation);
  assert.ok(err.offending.length > 0 && err.offending.length <= 64);
});

test('error classes map to wire codes and types, and back', () => {
  const cases = [
    [new sdk.PluginError('a'), -32000, 'PluginError'],
    [new sdk.NoInstallationError('b'), -32000, 'NoInstallationError'],
    [new sdk.NotSupportedError('c'), -32000, 'NotSupportedError'],
    [new sdk.PluginEnhancementAlreadyPresent('d'), -32000, 'PluginEnhancementAlreadyPresent'],
    [new sdk.PluginStorageError('e'), -32000, 'PluginStorageError'],
    [new sdk.ProtocolError('f'), -32000, 'ProtocolError'],
    [new sdk.InvalidParams('g'), -32602, 'InvalidParams'],
    [new sdk.MethodNotFound('h'), -32601, 'MethodNotFound'],
    [new sdk.Cancelled('i'), -32800, 'Cancelled'],
  ];
  for (const [err, code, type] of cases) {
    const wire = sdk.errorToWire(err);
    assert.deepEqual(wire, { code, type, message: err.message });
    const back = sdk.errorFromWire(wire);
    assert.equal(back.constructor, err.constructor);
    assert.equal(back.code, code);
  }
  const unknown = sdk.errorFromWire({ code: -32042, type: 'FancyNewError', message: 'm', data: { x: 1 } });
  assert.ok(unknown instanceof sdk.PluginError);
  assert.equal(unknown.code, -32042);
  assert.equal(unknown.remoteType, 'FancyNewError');
  assert.deepEqual(unknown.data, { x: 1 });
});

test('an error thrown after cancellation is answered as Cancelled', () => {
  assert.equal(sdk.errorToWire(new Error('aborted'), true).type, 'Cancelled');
  assert.equal(sdk.errorToWire(new sdk.MisconfigurationError('x'), true).type, 'MisconfigurationError');
});

test('version negotiation picks the highest common version', () => {
  assert.equal(sdk.negotiate([1, 2, 3], [1, 2]), 2);
  assert.throws(() => sdk.negotiate([4], [1, 2]), (e) => e instanceof sdk.ProtocolError && /\[4\].*\[1, 2\]/.test(e.message));
});
