'use strict';
// Per-domain values on challenges (PROTOCOL.md §8) through a real plugin
// process: the challenge's `per_domain` field is the answer whenever the
// kernel sends it, and the options map only when it does not.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { PluginProcess } = require('./helpers/kernel-sim');

const PLUGIN = path.join(__dirname, 'fixtures', 'per-domain-plugin.js');

function challenge(identifier, extra = {}) {
  return {
    identifier, identifier_type: 'dns', wildcard: false, type: 'http-01', token: 'tok',
    key_authorization: 'tok.thumb', validation: 'tok.thumb', validation_domain_name: '',
    uri_path: '/.well-known/acme-challenge/tok', ...extra,
  };
}

test('perDomainValue: the challenge value first, the options map only from an older kernel', async (t) => {
  const p = new PluginProcess([process.execPath, PLUGIN]);
  t.after(() => p.kill());
  await p.initialize({ name: 'per-domain', options: { sites: { 'a.example,B.example': '/from-options' } } });
  const res = await p.request('perform', {
    challenges: [
      challenge('a.example', { per_domain: { sites: '/from-challenge' } }),
      // Sent but without this option: no value, even though options has one.
      challenge('b.example', { per_domain: {} }),
      // Not sent (an older kernel): the options map, keys split and lowercased.
      challenge('b.example'),
      challenge('c.example'),
    ],
  });
  assert.deepEqual(res, { error: null, result: {} });
  assert.deepEqual(p.notifications.map((n) => n.params.message), [
    'a.example -> /from-challenge', 'b.example -> (none)', 'b.example -> /from-options',
    'c.example -> (none)',
  ]);
});

test('a per_domain field that is not a map of strings is InvalidParams', async (t) => {
  const p = new PluginProcess([process.execPath, PLUGIN]);
  t.after(() => p.kill());
  await p.initialize({ name: 'per-domain' });
  const bad = await p.request('perform', { challenges: [challenge('a.example', { per_domain: { sites: 3 } })] });
  assert.equal(bad.error.type, 'InvalidParams');
  assert.match(bad.error.message, /per_domain/);
  const notMap = await p.request('perform', { challenges: [challenge('a.example', { per_domain: 'x' })] });
  assert.equal(notMap.error.type, 'InvalidParams');
});
