'use strict';
/**
 * js-webroot: an http-01 authenticator for certkernel, in JavaScript.
 *
 * For each challenge it writes the key authorization to
 * <webroot>/.well-known/acme-challenge/<token>, where the site's web server
 * already serves files from, and removes exactly what it created on cleanup.
 * The files and folders it creates are remembered in its state directory,
 * so a cleanup run by a fresh process (after a crash) still removes them.
 */

// The SDK must be required first: when certkernel starts us it protects the
// protocol channel at once, before any other module can print to stdout.
const sdk = loadSdk();

const fs = require('node:fs');
const path = require('node:path');

const TOKEN_RE = /^[A-Za-z0-9_-]+$/;
const STATE_FILE = 'published.json';

function loadSdk() {
  try {
    return require('@certkernel/sdk'); // installed with npm next to this file
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
  }
  try {
    return require(`${__dirname}/../../sdk/node`); // running from a certkernel checkout
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    process.stderr.write(
      `js-webroot: the certkernel Node SDK is not installed; run ` +
      `\`npm install --install-links <certkernel>/sdk/node\` in ${__dirname}\n`,
    );
    process.exit(1);
  }
  return null;
}

class JsWebroot extends sdk.Authenticator {
  name = 'js-webroot';
  version = '1.0.0';
  description = 'Places http-01 challenge files in a webroot folder served by your web server.';
  challengeTypes = ['http-01'];

  /** domain -> webroot, from --js-webroot-map (keys may list several domains) */
  rootsByDomain() {
    const out = new Map();
    const map = this.options.map && typeof this.options.map === 'object' ? this.options.map : {};
    for (const [keys, root] of Object.entries(map)) {
      for (const d of keys.split(',')) if (d.trim()) out.set(d.trim().toLowerCase(), String(root));
    }
    return out;
  }

  async prepare() {
    const roots = [...this.rootsByDomain().values()];
    if (this.options.path) roots.push(String(this.options.path));
    for (const root of roots) checkRoot(root);
    this.answered = new Map();
  }

  async moreInfo() {
    return 'Saves the challenge response in <webroot>/.well-known/acme-challenge/ so that the '
      + 'web server already running for the site serves it to the CA. Written in JavaScript '
      + 'with the certkernel Node SDK.';
  }

  /** The webroot for one identifier, asking the user (through the kernel) if none is set. */
  async rootFor(identifier) {
    const mapped = this.rootsByDomain().get(identifier.toLowerCase());
    if (mapped) return mapped;
    if (this.options.path) return String(this.options.path);
    if (this.answered.has(identifier)) return this.answered.get(identifier);
    const value = await this.kernel.input(`Input the webroot for ${identifier}:`, { cliFlag: '--js-webroot-path' });
    if (value === null) throw new sdk.PluginError(`no webroot given for ${identifier}`);
    checkRoot(value);
    this.answered.set(identifier, value);
    return value;
  }

  async perform(challenges) {
    const state = this.loadState();
    let done = 0;
    for (const c of challenges) {
      if (c.type !== 'http-01') throw new sdk.PluginError(`js-webroot cannot answer ${c.type} challenges`);
      if (!TOKEN_RE.test(c.token)) throw new sdk.PluginError(`refusing unsafe challenge token ${JSON.stringify(c.token)}`);
      const dir = path.join(await this.rootFor(c.identifier), '.well-known', 'acme-challenge');
      const file = path.join(dir, c.token);
      // Record before acting, so a crash halfway still leaves a complete list.
      state.files.push(file);
      this.saveState(state);
      for (const made of mkdirs(dir)) state.dirs.push(made);
      this.saveState(state);
      fs.writeFileSync(file, c.validation, { mode: 0o644 });
      fs.chmodSync(file, 0o644); // the umask must not hide it from the web server
      this.kernel.log('debug', `wrote ${file}`);
      done += 1;
      this.kernel.progress(`challenge files written for ${c.identifier}`, { done, total: challenges.length });
    }
  }

  async cleanup(challenges) {
    const state = this.loadState();
    const tokens = new Set(challenges.map((c) => c.token));
    const keep = [];
    for (const file of state.files) {
      if (tokens.has(path.basename(file))) fs.rmSync(file, { force: true });
      else keep.push(file);
    }
    // Remove the folders we created, deepest first, if nothing else is in them.
    const dirs = [...state.dirs].sort((a, b) => b.length - a.length);
    const left = [];
    for (const dir of dirs) {
      try {
        fs.rmdirSync(dir);
      } catch (err) {
        if (err.code === 'ENOENT') continue;
        left.push(dir);
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') {
          this.kernel.log('warning', `could not remove ${dir}: ${err.message}`);
        }
      }
    }
    this.saveState({ files: keep, dirs: left });
  }

  /** What perform wrote and created: kept in the state dir to survive a crash. */
  loadState() {
    if (this.stateDir) {
      try {
        const s = JSON.parse(fs.readFileSync(path.join(this.stateDir, STATE_FILE), 'utf8'));
        if (Array.isArray(s.files) && Array.isArray(s.dirs)) return s;
      } catch {
        // no state yet, or unreadable: start empty
      }
    }
    return this.state ?? { files: [], dirs: [] };
  }

  saveState(state) {
    this.state = { files: [...new Set(state.files)], dirs: [...new Set(state.dirs)] };
    if (!this.stateDir) return;
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(this.stateDir, STATE_FILE), JSON.stringify(this.state));
  }
}

/** A webroot must be an existing folder. */
function checkRoot(root) {
  let st;
  try {
    st = fs.statSync(root);
  } catch {
    throw new sdk.MisconfigurationError(`webroot ${root} does not exist (check --js-webroot-path)`);
  }
  if (!st.isDirectory()) throw new sdk.MisconfigurationError(`webroot ${root} is not a folder`);
}

/** mkdir -p that returns the folders it created, outermost first. */
function mkdirs(dir) {
  const missing = [];
  let cur = path.resolve(dir);
  while (!fs.existsSync(cur)) {
    missing.unshift(cur);
    cur = path.dirname(cur);
  }
  for (const d of missing) fs.mkdirSync(d, { mode: 0o755 });
  for (const d of missing) fs.chmodSync(d, 0o755);
  return missing;
}

sdk.serve(JsWebroot);
