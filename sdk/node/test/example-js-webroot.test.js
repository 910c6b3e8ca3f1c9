'use strict';
// The JavaScript example plugin (examples/js-webroot) run as a real
// subprocess: what it publishes must be served over HTTP exactly as the CA
// will fetch it, and cleanup must leave the webroot as it found it.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { PluginProcess } = require('./helpers/kernel-sim');

const PLUGIN = path.join(__dirname, '..', '..', '..', 'examples', 'js-webroot', 'plugin.js');
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEYAUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

function challenge(identifier, token = TOKEN, type = 'http-01') {
  return {
    identifier, identifier_type: 'dns', wildcard: false, type, token,
    key_authorization: `${token}.thumb`, validation: token === TOKEN ? KEYAUTH : `${token}.thumb`,
    validation_domain_name: '', uri_path: `/.well-known/acme-challenge/${token}`,
  };
}

/** A static file server over `root`, on a free loopback port. */
async function serveDir(root) {
  const server = http.createServer((req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function fetchBody(server, uriPath) {
  const { port } = server.address();
  const res = await fetch(`http://127.0.0.1:${port}${uriPath}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

function tmp(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'js-webroot-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(t, name = 'js-webroot') {
  const p = new PluginProcess([process.execPath, PLUGIN], { name });
  t.after(() => p.kill());
  return p;
}

test('perform publishes the key authorization where the web server serves it; cleanup removes it', async (t) => {
  const root = tmp(t);
  const state = tmp(t);
  const server = await serveDir(root);
  t.after(() => server.close());
  const p = start(t);
  const init = await p.initialize({ name: 'js-webroot', options: { path: root, map: {} }, state_dir: state });
  assert.equal(init.result.name, 'js-webroot');
  assert.equal(init.result.protocol_version, 1);
  assert.deepEqual((await p.request('prepare')).result, {});
  assert.deepEqual((await p.request('get_chall_pref', { domain: 'example.com' })).result, { challenges: ['http-01'] });
  const c = challenge('example.com');
  assert.deepEqual(await p.request('perform', { challenges: [c] }), { error: null, result: {} });
  assert.deepEqual(await fetchBody(server, c.uri_path), { status: 200, body: KEYAUTH });
  const file = path.join(root, '.well-known', 'acme-challenge', TOKEN);
  assert.equal(fs.statSync(file).mode & 0o777, 0o644);
  assert.ok(p.notifications.some((n) => n.method === '$/progress'));
  assert.deepEqual(await p.request('cleanup', { challenges: [c] }), { error: null, result: {} });
  assert.equal((await fetchBody(server, c.uri_path)).status, 404);
  assert.deepEqual(fs.readdirSync(root), [], 'the .well-known folders it created are gone');
  await p.request('shutdown');
  p.notify('exit');
  p.closeStdin();
  assert.equal((await p.waitExit()).code, 0);
});

test('a webroot map sends each domain to its own folder; existing folders are kept', async (t) => {
  const a = tmp(t);
  const b = tmp(t);
  fs.mkdirSync(path.join(b, '.well-known'));
  fs.writeFileSync(path.join(b, '.well-known', 'security.txt'), 'keep me');
  const p = start(t);
  await p.initialize({ options: { path: '', map: { 'a.example,www.a.example': a, 'b.example': b } } });
  assert.equal((await p.request('prepare')).error, null);
  const cs = [challenge('www.a.example', 'tokA'), challenge('b.example', 'tokB')];
  assert.equal((await p.request('perform', { challenges: cs })).error, null);
  assert.equal(fs.readFileSync(path.join(a, '.well-known/acme-challenge/tokA'), 'utf8'), 'tokA.thumb');
  assert.equal(fs.readFileSync(path.join(b, '.well-known/acme-challenge/tokB'), 'utf8'), 'tokB.thumb');
  assert.equal((await p.request('cleanup', { challenges: cs })).error, null);
  assert.deepEqual(fs.readdirSync(a), []);
  assert.deepEqual(fs.readdirSync(path.join(b, '.well-known')), ['security.txt']);
});

test('cleanup in a fresh process (after a crash) removes what perform left', async (t) => {
  const root = tmp(t);
  const state = tmp(t);
  const first = start(t);
  await first.initialize({ options: { path: root }, state_dir: state });
  await first.request('prepare');
  const c = challenge('example.com');
  assert.equal((await first.request('perform', { challenges: [c] })).error, null);
  await first.kill(); // SIGKILL: no cleanup, no shutdown
  assert.ok(fs.existsSync(path.join(root, '.well-known', 'acme-challenge', TOKEN)));
  const second = start(t);
  await second.initialize({ options: { path: root }, state_dir: state });
  assert.equal((await second.request('cleanup', { challenges: [c] })).error, null);
  assert.deepEqual(fs.readdirSync(root), []);
});

test('no webroot: the plugin asks the kernel, which answers or names the flag', async (t) => {
  const root = tmp(t);
  const p = start(t);
  p.handlers['display/input'] = ({ message, cli_flag: flag }) => {
    assert.equal(flag, '--js-webroot-path');
    assert.match(message, /example\.com/);
    return { ok: true, value: root };
  };
  await p.initialize({ options: {} });
  await p.request('prepare');
  const c = challenge('example.com');
  assert.equal((await p.request('perform', { challenges: [c] })).error, null);
  assert.equal(fs.readFileSync(path.join(root, c.uri_path), 'utf8'), KEYAUTH);
  assert.equal((await p.request('cleanup', { challenges: [c] })).error, null);

  // A non-interactive kernel refuses the prompt; the user sees the flag to pass.
  const q = start(t);
  q.handlers['display/input'] = () => {
    const err = new Error('non-interactive');
    err.wireError = {
      code: -32000, type: 'MissingCommandlineFlag',
      message: 'Missing command line flag --js-webroot-path', data: { flag: '--js-webroot-path' },
    };
    throw err;
  };
  await q.initialize({ options: {} });
  await q.request('prepare');
  const { error } = await q.request('perform', { challenges: [c] });
  assert.equal(error.type, 'MissingCommandlineFlag');
  assert.deepEqual(error.data, { flag: '--js-webroot-path' });
});

test('bad input gets one clear error and writes nothing', async (t) => {
  const root = tmp(t);
  const p = start(t);
  await p.initialize({ options: { path: path.join(root, 'missing') } });
  const mis = (await p.request('prepare')).error;
  assert.equal(mis.type, 'MisconfigurationError');
  assert.match(mis.message, /does not exist.*--js-webroot-path/);

  const q = start(t);
  await q.initialize({ options: { path: root } });
  await q.request('prepare');
  const evil = (await q.request('perform', { challenges: [challenge('example.com', '../../etc/x')] })).error;
  assert.equal(evil.type, 'PluginError');
  assert.match(evil.message, /unsafe challenge token/);
  const dns = (await q.request('perform', { challenges: [challenge('example.com', 'tok', 'dns-01')] })).error;
  assert.equal(dns.type, 'PluginError');
  assert.match(dns.message, /cannot answer dns-01/);
  assert.deepEqual(fs.readdirSync(root), []);
  const unknown = (await q.request('deploy_cert', { domain: 'x' })).error;
  assert.equal(unknown.type, 'MethodNotFound');
});
