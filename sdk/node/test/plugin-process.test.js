'use strict';
// The SDK across a real process boundary: a plugin started as a subprocess,
// spoken to in msgpack over its pipes, the way the kernel runs it.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { PluginProcess, withTimeout } = require('./helpers/kernel-sim');
const { StrictDecoder, toMessage } = require('../lib');

const PROBE = path.join(__dirname, 'fixtures', 'probe-plugin.js');

function startProbe(opts) {
  return new PluginProcess([process.execPath, PROBE], opts);
}

/** Every byte on stdout must be a well-formed protocol message. */
function assertCleanStdout(p) {
  const d = new StrictDecoder();
  const frames = d.feed(p.stdoutBytes);
  d.close();
  for (const f of frames) toMessage(f.value, f.bytes);
  assert.equal(p.violation, null);
  return frames.length;
}

test('without the cookie the plugin says what it is and exits 2', async () => {
  const p = startProbe({ cookie: false, transport: 'socket' });
  const { code } = await p.waitExit();
  assert.equal(code, 2);
  assert.match(p.stderrText, /is a certkernel plugin/);
  assert.match(p.stderrText, /certkernel plugins/);
});

test('over sockets (no /proc reopen) console.log and process.stdout are still guarded', async (t) => {
  const p = startProbe({ transport: 'socket' });
  t.after(() => p.kill());
  await p.initialize();
  assert.deepEqual((await p.request('get_all_names')).result, { names: ['b.example', 'a.example'] });
  p.closeStdin();
  assert.deepEqual(await p.waitExit(), { code: 0, signal: null });
  assert.match(p.stderrText, /stray console\.log at load time/);
  assert.match(p.stderrText, /stray process\.stdout\.write at load time/);
  assertCleanStdout(p);
});

test('handshake, work, shutdown and exit: stdout carries only protocol bytes', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  const init = await p.initialize({ protocol_versions: [1, 2], some_future_field: { x: 1 } });
  assert.equal(init.error, null);
  assert.deepEqual(init.result, {
    protocol_version: 1, name: 'probe', version: '9.8.7', capabilities: ['cancel'],
  });
  const prep = await p.request('prepare', { unknown_field: true });
  assert.deepEqual(prep, { error: null, result: {} });
  const pref = await p.request('get_chall_pref', { domain: 'a.example' });
  assert.deepEqual(pref.result, { challenges: ['http-01', 'dns-01'] });
  const names = await p.request('get_all_names');
  assert.deepEqual(names.result, { names: ['b.example', 'a.example'] });
  const info = await p.request('more_info');
  assert.match(info.result.text, /^Probe 9\.8\.7/);
  assert.deepEqual(await p.request('$/ping'), { error: null, result: {} });
  assert.deepEqual((await p.request('shutdown')).result, {});
  p.notify('exit');
  p.closeStdin();
  assert.deepEqual(await p.waitExit(), { code: 0, signal: null });
  // Load-time console.log, process.stdout.write, console.log in a handler and
  // a child process with stdio 'inherit' all went to stderr.
  assert.match(p.stderrText, /stray console\.log at load time/);
  assert.match(p.stderrText, /stray process\.stdout\.write at load time/);
  assert.match(p.stderrText, /console\.log inside prepare/);
  assert.match(p.stderrText, /child process stdout/);
  assert.equal(assertCleanStdout(p), 7);
});

test('no common protocol version: ProtocolError naming both lists', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  const { error, result } = await p.initialize({ protocol_versions: [2, 3] });
  assert.equal(result, null);
  assert.equal(error.code, -32000);
  assert.equal(error.type, 'ProtocolError');
  assert.match(error.message, /\[2, 3\]/);
  assert.match(error.message, /\[1\]/);
});

test('requests before initialize, twice initialize, unknown methods', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  const early = await p.request('prepare');
  assert.equal(early.error.type, 'InvalidRequest');
  assert.equal(early.error.code, -32600);
  await p.initialize();
  assert.equal((await p.initialize()).error.type, 'InvalidRequest');
  const unknown = await p.request('frobnicate', { a: 1 });
  assert.equal(unknown.error.code, -32601);
  assert.equal(unknown.error.type, 'MethodNotFound');
  assert.match(unknown.error.message, /frobnicate/);
  const bad = await p.request('get_chall_pref', { domain: 42 });
  assert.equal(bad.error.code, -32602);
  assert.match(bad.error.message, /domain/);
});

test('errors are mapped to protocol types with their data', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  await p.initialize({ options: { fail: 'misconfig' } });
  const mis = (await p.request('prepare')).error;
  assert.deepEqual(mis, {
    code: -32000, type: 'MisconfigurationError', message: 'webroot /nowhere does not exist',
    data: { details: 'second line kept in data' },
  });
  const deploy = (domain) => p.request('deploy_cert', {
    domain, cert_path: '/c', key_path: '/k', chain_path: '/ch', fullchain_path: '/f',
  });
  const flag = (await deploy('flag.test')).error;
  assert.deepEqual(flag, {
    code: -32000, type: 'MissingCommandlineFlag', message: 'a value is needed', data: { flag: '--probe-value' },
  });
  const plugin = (await deploy('plugin.test')).error;
  assert.deepEqual(plugin, { code: -32000, type: 'PluginError', message: 'could not write /etc/probe.conf' });
  const boom = (await deploy('boom.test')).error;
  assert.equal(boom.code, -32603);
  assert.equal(boom.type, 'InternalError');
  assert.match(boom.message, /TypeError/);
  assert.match(boom.data.traceback, /probe-plugin\.js:\d+/);
  const str = (await deploy('string.test')).error;
  assert.equal(str.type, 'InternalError');
  assert.match(str.message, /a bare string/);
  const ok = await deploy('ok.test');
  assert.deepEqual(ok, { error: null, result: {} });
});

test('a kernel error answered to a prompt propagates with its type and flag', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  p.handlers['display/yesno'] = (params) => {
    assert.equal(params.cli_flag, '--probe-overwrite');
    const err = new Error('refused');
    err.wireError = { code: -32000, type: 'MissingCommandlineFlag', message: 'Missing --probe-overwrite', data: { flag: '--probe-overwrite' } };
    throw err;
  };
  await p.initialize();
  const { error } = await p.request('deploy_cert', {
    domain: 'prompt.test', cert_path: '/c', key_path: '/k', chain_path: '/ch', fullchain_path: '/f',
  });
  assert.deepEqual(error, {
    code: -32000, type: 'MissingCommandlineFlag', message: 'Missing --probe-overwrite', data: { flag: '--probe-overwrite' },
  });
});

test('nested kernel calls while perform runs: prompt, storage, log, progress', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  const store = new Map();
  p.handlers['display/input'] = (params) => {
    assert.equal(params.cli_flag, '--probe-value');
    assert.match(params.message, /a\.example/);
    return { ok: true, value: 'typed-by-user' };
  };
  p.handlers['storage/put'] = ({ key, value }) => { store.set(key, value); return {}; };
  p.handlers['storage/get'] = ({ key }) => ({ found: store.has(key), value: store.get(key) ?? null });
  await p.initialize();
  const chall = {
    identifier: 'a.example', identifier_type: 'dns', wildcard: false, type: 'http-01',
    token: 'tok', key_authorization: 'tok.thumb', validation: 'tok.thumb',
    validation_domain_name: '', uri_path: '/.well-known/acme-challenge/tok', future: 'ignored',
  };
  const res = await p.request('perform', { challenges: [chall] });
  assert.deepEqual(res, { error: null, result: {} });
  assert.deepEqual(store.get('last'), { value: 'typed-by-user', types: ['http-01'] });
  const methods = p.notifications.map((n) => n.method);
  assert.deepEqual(methods, ['$/progress', '$/log']);
  assert.deepEqual(p.notifications[0].params, { message: 'asking the user', done: 0, total: 1 });
  assert.deepEqual(p.notifications[1].params, {
    level: 'info', message: 'stored {"value":"typed-by-user","types":["http-01"]}',
  });
  // The plugin's own request ids are its own space, starting at 1.
  const pluginRequests = p.messages.filter((m) => m.kind === 'request').map((m) => m.id);
  assert.deepEqual(pluginRequests, [1, 2, 3]);
});

test('$/cancel aborts the handler signal and the request is still answered', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  await p.initialize();
  const restart = p.requestWithId('restart');
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  p.notify('$/cancel', { id: restart.id });
  const { error } = await restart.answer;
  assert.ok(Date.now() - started < 5000);
  assert.equal(error.code, -32800);
  assert.equal(error.type, 'Cancelled');
  // A handler that ignores the signal still answers with its result.
  const ct = p.requestWithId('config_test');
  p.notify('$/cancel', { id: ct.id });
  assert.deepEqual(await ct.answer, { error: null, result: {} });
  // $/cancel for an id not in flight is ignored.
  p.notify('$/cancel', { id: 4242 });
  assert.deepEqual(await p.request('$/ping'), { error: null, result: {} });
});

test('cancelling a handler cancels its nested kernel call too', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  let asked;
  const askedOnce = new Promise((resolve) => { asked = resolve; });
  p.handlers['display/input'] = () => new Promise((resolve) => {
    asked();
    setTimeout(() => resolve({ ok: true, value: 'late' }), 1000);
  });
  await p.initialize();
  const save = p.requestWithId('save', { title: 't', temporary: false });
  await askedOnce;
  p.notify('$/cancel', { id: save.id });
  const { error } = await save.answer;
  assert.equal(error.type, 'Cancelled');
  const inputCall = p.messages.find((m) => m.kind === 'request' && m.method === 'display/input');
  await p.waitFor(() => p.notifications.some((n) => n.method === '$/cancel'), 'the plugin to cancel its call');
  const cancel = p.notifications.find((n) => n.method === '$/cancel');
  assert.deepEqual(cancel.params, { id: inputCall.id });
  // The kernel's late answer to the cancelled call is not a violation.
  await new Promise((r) => setTimeout(r, 1100));
  assert.deepEqual(await p.request('$/ping'), { error: null, result: {} });
  assert.equal(p.child.exitCode, null);
});

test('stdin EOF ends the plugin with status 0 even with open handles', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  await p.initialize();
  assert.deepEqual((await p.request('recovery_routine')).result, {});
  p.closeStdin();
  assert.deepEqual(await p.waitExit(), { code: 0, signal: null });
  assertCleanStdout(p);
});

test('a malformed request that carries an id gets InvalidRequest and the plugin goes on', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  await p.initialize();
  const answered = new Promise((resolve) => p.pending.set(77, resolve));
  p.write(Buffer.from('94004da66d6574686f6401', 'hex')); // [0, 77, "method", 1]: params not an array
  const { error } = await withTimeout(answered, 10000, 'the InvalidRequest answer');
  assert.equal(error.code, -32600);
  assert.equal(error.type, 'InvalidRequest');
  assert.deepEqual(await p.request('$/ping'), { error: null, result: {} });
});

const VECTORS = JSON.parse(fs.readFileSync(
  path.join(__dirname, '..', '..', '..', 'protocol', 'vectors', 'vectors.json'), 'utf8')).vectors;

// Every invalid conformance vector, sent by the "kernel" to a live plugin.
for (const v of VECTORS.filter((x) => !x.valid)) {
  test(`vector ${v.name} sent to a plugin: ${v.reaction}`, async (t) => {
    const p = startProbe();
    t.after(() => p.kill());
    await p.initialize();
    if (v.reaction === 'invalid-request') {
      const answered = new Promise((resolve) => p.pending.set(1, resolve));
      p.write(Buffer.from(v.hex, 'hex'));
      const { error } = await withTimeout(answered, 10000, 'the InvalidRequest answer');
      assert.equal(error.code, -32600);
      assert.equal(error.type, 'InvalidRequest');
      assert.deepEqual(await p.request('$/ping', {}, { id: 2 }), { error: null, result: {} });
      p.closeStdin();
      assert.equal((await p.waitExit()).code, 0);
      return;
    }
    p.write(Buffer.from(v.hex, 'hex'));
    if (v.reaction === 'violation') {
      // Exits on its own, before EOF.
      await p.waitFor(() => /protocol violation/.test(p.stderrText), 'the violation line');
    }
    p.closeStdin();
    assert.equal((await p.waitExit()).code, 3);
    assert.match(p.stderrText, /protocol violation from the kernel: .*\(bytes: [0-9a-f]+\)/);
  });
}

test('a response nobody asked for from the kernel: a line on stderr and exit 3', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  await p.initialize();
  p.write(Buffer.from('9401cd0539c080', 'hex')); // [1, 1337, nil, {}]
  p.closeStdin();
  assert.equal((await p.waitExit()).code, 3);
  assert.match(p.stderrText, /response id 1337 matches no request in flight/);
});

test('a 16 MiB flood is refused before it is buffered', async (t) => {
  const p = startProbe();
  t.after(() => p.kill());
  await p.initialize();
  // str32 header announcing 32 MiB, then only a little data.
  p.write(Buffer.concat([Buffer.from('9300db02000000', 'hex'), Buffer.alloc(1024, 0x61)]));
  p.closeStdin();
  const { code } = await p.waitExit();
  assert.equal(code, 3);
  assert.match(p.stderrText, /larger than the 16777216-byte cap/);
});
