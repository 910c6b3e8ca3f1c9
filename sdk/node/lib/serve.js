'use strict';
/**
 * `serve(PluginClass)`: run a plugin on stdio until the kernel is done.
 *
 * Order matters and follows the spec: refuse to run without the cookie
 * (§2), protect the channel (§1), then answer `initialize` (§4) and route
 * every later request to the plugin. The process exits 0 on stdin EOF or
 * `exit`, and 3 after a protocol violation by the kernel (§3.1).
 */
const constants = require('./constants');
const { protect, openChannel } = require('./channel');
const { Endpoint } = require('./endpoint');
const { Kernel } = require('./kernel');
const { dispatch, field } = require('./dispatch');
const { capabilitiesOf } = require('./plugin');
const { InvalidRequest, ProtocolError } = require('./errors');

/** Grace for flushing our last bytes before the process exits. */
const FLUSH_MS = 2000;

/** True when the kernel started us (the magic cookie is in the environment). */
function startedByKernel(env = process.env) {
  return env[constants.COOKIE_ENV] === constants.COOKIE;
}

function refuseWithoutCookie(plugin) {
  const name = process.env[constants.NAME_ENV] || plugin.name || 'this program';
  process.stderr.write(
    `${name} is a certkernel plugin: it is started by certkernel, not by hand. ` +
    'Run `certkernel plugins` to list installed plugins.\n',
  );
  process.exit(constants.EXIT_NO_COOKIE);
}

/** Pick the highest version both sides speak, or throw ProtocolError naming both lists. */
function negotiate(offered, supported) {
  const common = supported.filter((v) => offered.includes(v));
  if (common.length === 0) {
    throw new ProtocolError(
      `no common protocol version: the kernel offers [${offered.join(', ')}], ` +
      `this plugin speaks [${supported.join(', ')}]`,
    );
  }
  return Math.max(...common);
}

/** Answers the kernel on behalf of one plugin instance. */
class PluginServer {
  /**
   * @param {object} plugin an instance of Authenticator, Installer ...
   * @param {{versions?: number[]}} [opts] protocol versions to speak (tests)
   */
  constructor(plugin, opts = {}) {
    this.plugin = plugin;
    this.versions = opts.versions ?? [...constants.SUPPORTED_VERSIONS];
    this.initialized = false;
  }

  /** The endpoint's request handler. */
  async handle(method, params, ctx) {
    if (method === 'initialize') return this._initialize(params);
    if (!this.initialized) {
      throw new InvalidRequest(`${method} before initialize: initialize must come first`);
    }
    return dispatch(this.plugin, method, params, ctx);
  }

  _initialize(params) {
    if (this.initialized) throw new InvalidRequest('initialize was already received');
    const m = 'initialize';
    const offered = field(m, params, 'protocol_versions', 'array');
    if (!offered.every((v) => Number.isInteger(v))) {
      throw new ProtocolError('initialize: protocol_versions must list integers');
    }
    const version = negotiate(offered, this.versions);
    const pl = this.plugin;
    pl.protocolVersion = version;
    pl.options = field(m, params, 'options', 'map', { optional: true, dflt: {} });
    pl.secrets = field(m, params, 'secrets', 'map', { optional: true, dflt: {} });
    pl.settings = field(m, params, 'settings', 'map', { optional: true, dflt: {} });
    pl.stateDir = field(m, params, 'state_dir', 'str', { optional: true, dflt: '' });
    pl.fds = field(m, params, 'fds', 'map', { optional: true, dflt: {} });
    // Required and optional as protocol/methods.py declares (tests/protocol/test_registry.py).
    pl.kernelVersion = field(m, params, 'kernel_version', 'str');
    const kernelName = field(m, params, 'name', 'str');
    if (!pl.name) pl.name = kernelName;
    this.initialized = true;
    return {
      protocol_version: version,
      name: pl.name,
      version: String(pl.version),
      capabilities: capabilitiesOf(pl),
    };
  }
}

/**
 * Serve a plugin on stdin/stdout until EOF. Never returns normally: the
 * process exits when the kernel is done with it.
 *
 * @param {Function|object} PluginClassOrInstance a class (instantiated here) or an instance
 * @param {{versions?: number[]}} [opts]
 */
function serve(PluginClassOrInstance, opts = {}) {
  const plugin = typeof PluginClassOrInstance === 'function'
    ? new PluginClassOrInstance() : PluginClassOrInstance;
  if (!startedByKernel()) refuseWithoutCookie(plugin);
  protect();
  const { input, output } = openChannel();
  const server = new PluginServer(plugin, opts);
  let exiting = false;
  const exit = (status) => {
    if (exiting) return;
    exiting = true;
    process.exitCode = status; // also right if the loop drains before the callbacks run
    const timer = setTimeout(() => process.exit(status), FLUSH_MS);
    timer.unref();
    output.end(() => process.exit(status));
  };
  const endpoint = new Endpoint({
    input,
    output,
    handleRequest: (method, params, ctx) => server.handle(method, params, ctx),
    handleNotification: (method) => {
      if (method === 'exit') exit(constants.EXIT_OK);
    },
    onEnd: ({ status }) => exit(status),
  });
  plugin.kernel = new Kernel(endpoint);
  endpoint.start();
  return endpoint;
}

module.exports = { serve, PluginServer, negotiate, startedByKernel };
