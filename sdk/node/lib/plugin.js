'use strict';
/**
 * What a plugin author subclasses: `Authenticator`, `Installer`, or
 * `AuthenticatorInstaller` for a plugin with both roles.
 *
 * Handlers are async methods named after the protocol methods in camelCase
 * (`get_chall_pref` -> `getChallPref`). Each receives its params and, last,
 * a call context `{id, method, signal, params}`; `signal` is aborted by
 * `$/cancel`. A method the plugin does not define answers MethodNotFound.
 */
const { currentCall } = require('./endpoint');
const { PluginError } = require('./errors');

/** Fields every plugin has, filled from `initialize` before `prepare`. */
class Plugin {
  constructor() {
    /** must match the manifest's name */
    this.name = '';
    /** the plugin's own version, reported in `initialize` */
    this.version = '0.0.0';
    /** shown by `certkernel plugins` through the default moreInfo() */
    this.description = '';
    /** extras implemented (`autohsts`, `renew_deploy`, `cancel`); derived from the methods defined when left undefined */
    this.capabilities = undefined;
    /** option values, typed per the manifest, keyed without the plugin prefix */
    this.options = {};
    /** values the kernel read from credential files */
    this.secrets = {};
    /** run-wide settings: dry_run, non_interactive, http01_port, config_dir ... */
    this.settings = {};
    /** a private directory that survives between runs */
    this.stateDir = '';
    /** descriptors handed over, by purpose (`http01_sockets`) */
    this.fds = {};
    /** the protocol version chosen in `initialize` */
    this.protocolVersion = 0;
    /** the handle for kernel callbacks (prompts, storage, checkpoints, log) */
    this.kernel = null;
  }

  /** The abort signal of the request being handled (undefined outside one). */
  get signal() {
    return currentCall()?.signal;
  }

  /** True once `$/cancel` arrived for the request being handled. */
  get cancelled() {
    return Boolean(currentCall()?.signal.aborted);
  }

  /** Check the environment and options; throw MisconfigurationError & co. */
  async prepare() {}

  /** A paragraph for `certkernel plugins`. */
  async moreInfo() {
    return this.description;
  }

  /** Release resources; `exit` and EOF follow. */
  async shutdown() {}
}

/** Adds the authenticator defaults to a base class. */
function AuthenticatorRole(Base) {
  return class extends Base {
    constructor() {
      super();
      /** challenge types this plugin can use, best first */
      this.challengeTypes = [];
    }

    /**
     * The challenge types usable for `domain`, best first.
     * @param {string} _domain
     * @returns {Promise<string[]>}
     */
    async getChallPref(_domain) {
      if (this.challengeTypes.length === 0) {
        throw new PluginError(`${this.name || 'plugin'}: no challenge types declared (set this.challengeTypes)`);
      }
      return [...this.challengeTypes];
    }
    // perform(challenges, ctx) and cleanup(challenges, ctx) are the plugin's to write.

    /**
     * The value of the per-domain map `option` for `challenge`'s name, or
     * undefined (PROTOCOL.md §8). A kernel that sends `perDomain` speaks for
     * the challenge's own lineage, and none there means none was given: a
     * process that lineages share (`[needs] per_domain_from_challenge`) has
     * no lineage's values in `this.options`. Only an older kernel,
     * which sends no such field, leaves the answer to `this.options[option]`.
     * @param {{identifier: string, wildcard: boolean, perDomain?: Object<string, string>}} challenge
     * @param {string} option
     * @returns {string|undefined}
     */
    perDomainValue(challenge, option) {
      if (challenge.perDomain !== undefined) return challenge.perDomain[option] || undefined;
      const name = challenge.identifier.toLowerCase();
      const names = challenge.wildcard ? [name, `*.${name}`] : [name];
      const map = this.options[option];
      if (map === null || typeof map !== 'object') return undefined;
      for (const [key, value] of Object.entries(map)) {
        const keys = key.split(',').map((k) => k.trim().toLowerCase());
        if (value && names.some((n) => keys.includes(n))) return String(value);
      }
      return undefined;
    }
  };
}

/** Adds the installer defaults to a base class. */
function InstallerRole(Base) {
  return class extends Base {
    /** @returns {Promise<string[]>} */
    async supportedEnhancements() {
      return [];
    }

    async enhance(domain, enhancement) {
      throw new PluginError(`${this.name || 'plugin'} does not support the ${enhancement} enhancement (for ${domain})`);
    }

    async save() {}

    async configTest() {}

    async restart() {}

    async recoveryRoutine() {}
    // getAllNames(ctx) and deployCert(target, ctx) are the plugin's to write.
  };
}

const Authenticator = AuthenticatorRole(Plugin);
Object.defineProperty(Authenticator, 'name', { value: 'Authenticator' });
const Installer = InstallerRole(Plugin);
Object.defineProperty(Installer, 'name', { value: 'Installer' });
const AuthenticatorInstaller = AuthenticatorRole(InstallerRole(Plugin));
Object.defineProperty(AuthenticatorInstaller, 'name', { value: 'AuthenticatorInstaller' });

/** Capabilities a plugin implements, from what it defines (spec §4). */
function capabilitiesOf(plugin) {
  if (Array.isArray(plugin.capabilities)) return [...plugin.capabilities];
  // The SDK always honours $/cancel: handlers get an aborted signal and the
  // request is answered either way.
  const caps = ['cancel'];
  const has = (m) => typeof plugin[m] === 'function';
  if (has('updateAutohsts') && has('deployAutohsts') && has('enableAutohsts')) caps.push('autohsts');
  if (has('renewDeploy')) caps.push('renew_deploy');
  return caps;
}

module.exports = {
  Plugin,
  Authenticator,
  Installer,
  AuthenticatorInstaller,
  AuthenticatorRole,
  InstallerRole,
  capabilitiesOf,
};
