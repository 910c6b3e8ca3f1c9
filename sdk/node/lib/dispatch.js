'use strict';
/**
 * From wire methods to plugin handlers (PROTOCOL.md §5): checks params,
 * converts challenge and lineage maps to camelCase objects, calls the
 * plugin's method and shapes its return value into the result map.
 */
const { InvalidParams, MethodNotFound, InternalError } = require('./errors');
const { isMap } = require('./messages');

/** Read one field, or throw InvalidParams naming it. */
function field(method, params, name, kind, { optional = false, dflt } = {}) {
  const v = params[name];
  if (v === undefined || (v === null && optional)) {
    if (optional) return dflt;
    throw new InvalidParams(`${method}: missing field "${name}"`);
  }
  const ok = {
    str: () => typeof v === 'string',
    bool: () => typeof v === 'boolean',
    int: () => Number.isInteger(v),
    array: () => Array.isArray(v),
    map: () => isMap(v),
    any: () => true,
  }[kind]();
  if (!ok) throw new InvalidParams(`${method}: field "${name}" must be a ${kind}`);
  return v;
}

function strList(method, list, name) {
  if (!list.every((x) => typeof x === 'string')) {
    throw new InvalidParams(`${method}: every item of "${name}" must be a string`);
  }
  return list;
}

/**
 * A challenge map (§5.2) as a camelCase object; `raw` keeps the wire map.
 * Required and optional fields as protocol/methods.py declares them
 * (tests/protocol/test_registry.py runs this against the registry).
 */
function challengeFromWire(method, m) {
  if (!isMap(m)) throw new InvalidParams(`${method}: each challenge must be a map`);
  const s = (name) => field(method, m, name, 'str', { optional: true, dflt: '' });
  const r = (name) => field(method, m, name, 'str');
  return {
    identifier: r('identifier'),
    identifierType: s('identifier_type') || 'dns',
    wildcard: field(method, m, 'wildcard', 'bool', { optional: true, dflt: false }),
    type: r('type'),
    token: r('token'),
    keyAuthorization: r('key_authorization'),
    validation: r('validation'),
    validationDomainName: s('validation_domain_name'),
    uriPath: s('uri_path'),
    perDomain: strMap(method, field(method, m, 'per_domain', 'map', { optional: true }), 'per_domain'),
    raw: m,
  };
}

/** An optional map of strings (`per_domain`, §8), or undefined when absent. */
function strMap(method, value, name) {
  if (value === undefined) return undefined;
  if (!Object.values(value).every((x) => typeof x === 'string')) {
    throw new InvalidParams(`${method}: every value of "${name}" must be a string`);
  }
  return { ...value };
}

/** A lineage map (§5.3) as a camelCase object. */
function lineageFromWire(method, m) {
  if (!isMap(m)) throw new InvalidParams(`${method}: "lineage" must be a map`);
  const s = (name) => field(method, m, name, 'str');
  return {
    name: s('name'),
    certPath: s('cert_path'),
    keyPath: s('key_path'),
    chainPath: s('chain_path'),
    fullchainPath: s('fullchain_path'),
    domains: strList(method, field(method, m, 'domains', 'array', { optional: true, dflt: [] }), 'domains'),
    raw: m,
  };
}

function challenges(method, p) {
  return field(method, p, 'challenges', 'array').map((c) => challengeFromWire(method, c));
}

function listResult(method, key, value) {
  if (!Array.isArray(value)) throw new InternalError(`${method} must return an array, got ${typeof value}`);
  return { [key]: value };
}

/** wire method -> [plugin method, (plugin, params, ctx) => result map] */
const TABLE = {
  prepare: ['prepare', async (pl, p, ctx) => { await pl.prepare(ctx); }],
  shutdown: ['shutdown', async (pl, p, ctx) => { await pl.shutdown(ctx); }],
  more_info: ['moreInfo', async (pl, p, ctx) => ({ text: String((await pl.moreInfo(ctx)) ?? '') })],
  get_chall_pref: ['getChallPref', async (pl, p, ctx) => listResult('get_chall_pref', 'challenges',
    await pl.getChallPref(field('get_chall_pref', p, 'domain', 'str'), ctx))],
  perform: ['perform', async (pl, p, ctx) => { await pl.perform(challenges('perform', p), ctx); }],
  cleanup: ['cleanup', async (pl, p, ctx) => { await pl.cleanup(challenges('cleanup', p), ctx); }],
  get_all_names: ['getAllNames', async (pl, p, ctx) => listResult('get_all_names', 'names',
    await pl.getAllNames(ctx))],
  deploy_cert: ['deployCert', async (pl, p, ctx) => {
    const f = (name, opt) => field('deploy_cert', p, name, 'str', opt);
    await pl.deployCert({
      domain: f('domain'),
      certPath: f('cert_path'),
      keyPath: f('key_path'),
      chainPath: f('chain_path'),
      fullchainPath: f('fullchain_path'),
    }, ctx);
  }],
  supported_enhancements: ['supportedEnhancements', async (pl, p, ctx) => listResult(
    'supported_enhancements', 'enhancements', await pl.supportedEnhancements(ctx))],
  enhance: ['enhance', async (pl, p, ctx) => {
    await pl.enhance(field('enhance', p, 'domain', 'str'), field('enhance', p, 'enhancement', 'str'),
      field('enhance', p, 'options', 'any', { optional: true, dflt: null }), ctx);
  }],
  save: ['save', async (pl, p, ctx) => {
    await pl.save(field('save', p, 'title', 'str', { optional: true, dflt: null }),
      field('save', p, 'temporary', 'bool', { optional: true, dflt: false }), ctx);
  }],
  config_test: ['configTest', async (pl, p, ctx) => { await pl.configTest(ctx); }],
  restart: ['restart', async (pl, p, ctx) => { await pl.restart(ctx); }],
  recovery_routine: ['recoveryRoutine', async (pl, p, ctx) => { await pl.recoveryRoutine(ctx); }],
  update_autohsts: ['updateAutohsts', async (pl, p, ctx) => {
    await pl.updateAutohsts(field('update_autohsts', p, 'domain', 'str'), ctx);
  }],
  deploy_autohsts: ['deployAutohsts', async (pl, p, ctx) => {
    await pl.deployAutohsts(lineageFromWire('deploy_autohsts', field('deploy_autohsts', p, 'lineage', 'map')), ctx);
  }],
  enable_autohsts: ['enableAutohsts', async (pl, p, ctx) => {
    const m = 'enable_autohsts';
    await pl.enableAutohsts(lineageFromWire(m, field(m, p, 'lineage', 'map')),
      strList(m, field(m, p, 'domains', 'array'), 'domains'), ctx);
  }],
  renew_deploy: ['renewDeploy', async (pl, p, ctx) => {
    await pl.renewDeploy(lineageFromWire('renew_deploy', field('renew_deploy', p, 'lineage', 'map')), ctx);
  }],
};

/**
 * Run one kernel request against the plugin.
 * @returns {Promise<object>} the result map
 */
async function dispatch(plugin, method, params, ctx) {
  const entry = Object.prototype.hasOwnProperty.call(TABLE, method) ? TABLE[method] : undefined;
  if (!entry || typeof plugin[entry[0]] !== 'function') {
    throw new MethodNotFound(`method ${JSON.stringify(method)} is not implemented by this plugin`);
  }
  const result = await entry[1](plugin, params, { ...ctx, params });
  return result ?? {};
}

module.exports = { dispatch, challengeFromWire, lineageFromWire, field };
