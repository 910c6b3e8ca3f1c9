'use strict';
/**
 * A stand-in kernel for tests: spawns a plugin as a real subprocess with
 * the cookie, speaks msgpack to it over real pipes, answers its callbacks
 * from a table, and records everything it wrote to stdout and stderr so a
 * test can check what a user (or the real kernel) would see.
 */
const { spawn } = require('node:child_process');
const { StrictDecoder, encode, toMessage, constants } = require('../../lib');

// Generous: CI machines are shared; every wait is still bounded.
const DEFAULT_TIMEOUT_MS = 20000;

/**
 * Runs "$0" "$@" with real pipes on fds 0, 1 and 2 (each bridged by a cat),
 * keeping the plugin's exit status (pipefail).
 */
const PIPES = 'set -o pipefail; exec 3>&1; '
  + '{ cat | "$0" "$@" 2>&1 1>&4 4>&- 3>&- | cat >&2 4>&- 3>&-; } 4>&1 | cat >&3';

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

class PluginProcess {
  /**
   * @param {string[]} argv the command, e.g. [process.execPath, 'plugin.js']
   * @param {{cookie?: boolean, env?: object, cwd?: string, transport?: 'pipe'|'socket'}} [opts]
   *   transport 'pipe' (the default) gives the plugin real pipes on fds 0
   *   and 1, as the kernel does; Node's own spawn() would give it sockets,
   *   which is the 'socket' transport (where only the JS-level guard works).
   */
  constructor(argv, opts = {}) {
    const env = {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      [constants.VERSIONS_ENV]: '1',
      [constants.NAME_ENV]: opts.name ?? 'probe',
      ...(opts.cookie === false ? {} : { [constants.COOKIE_ENV]: constants.COOKIE }),
      ...(opts.env ?? {}),
    };
    const [cmd, args] = opts.transport === 'socket'
      ? [argv[0], argv.slice(1)]
      : ['bash', ['--norc', '--noprofile', '-c', PIPES, ...argv]];
    // Own process group, so kill() reaches the plugin behind the cat pipes.
    this.child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.stdout = [];
    this.stderr = [];
    this.messages = [];
    this.notifications = [];
    this.violation = null;
    this.nextId = 1;
    this.pending = new Map();
    this.waiters = [];
    /** answers to the plugin's calls, by method: params -> result, or throw {wireError} */
    this.handlers = {};
    this.decoder = new StrictDecoder();
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    this.child.stdout.on('data', (chunk) => this._onData(chunk));
    this.child.stderr.on('data', (chunk) => {
      this.stderr.push(chunk);
      this._wake();
    });
    this.child.stdin.on('error', () => {}); // the plugin may exit first
  }

  /** Everything the plugin wrote to stderr so far. */
  get stderrText() {
    return Buffer.concat(this.stderr).toString('utf8');
  }

  /** Everything the plugin wrote to stdout so far. */
  get stdoutBytes() {
    return Buffer.concat(this.stdout);
  }

  _onData(chunk) {
    this.stdout.push(chunk);
    if (this.violation) return;
    let frames;
    try {
      frames = this.decoder.feed(chunk);
    } catch (err) {
      this.violation = err;
      return;
    }
    for (const { value, bytes } of frames) {
      let msg;
      try {
        msg = toMessage(value, bytes);
      } catch (err) {
        this.violation = err;
        return;
      }
      this.messages.push(msg);
      if (msg.kind === 'response') {
        const w = this.pending.get(msg.id);
        if (!w) {
          this.violation = new Error(`response to unknown id ${msg.id}`);
          return;
        }
        this.pending.delete(msg.id);
        w({ error: msg.error, result: msg.result });
      } else if (msg.kind === 'notification') {
        this.notifications.push(msg);
      } else {
        this._answer(msg);
      }
      this._wake();
    }
  }

  async _answer({ id, method, params }) {
    const h = this.handlers[method];
    let reply;
    if (!h) {
      reply = [1, id, { code: -32601, type: 'MethodNotFound', message: `no ${method} here` }, null];
    } else {
      try {
        reply = [1, id, null, (await h(params)) ?? {}];
      } catch (err) {
        reply = [1, id, err.wireError ?? { code: -32603, type: 'InternalError', message: String(err) }, null];
      }
    }
    this.write(encode(reply));
  }

  _wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Write raw bytes to the plugin's stdin. */
  write(bytes) {
    if (!this.child.stdin.destroyed) this.child.stdin.write(bytes);
  }

  /**
   * Send a request; resolves with {error, result}.
   * @param {string} method
   * @param {object} [params]
   */
  request(method, params = {}, { timeoutMs = DEFAULT_TIMEOUT_MS, id } = {}) {
    const rid = id ?? this.nextId++;
    const answered = new Promise((resolve) => this.pending.set(rid, resolve));
    this.write(encode([0, rid, method, [params]]));
    return withTimeout(answered, timeoutMs, `the answer to ${method}`);
  }

  /** Send a request whose id the caller picks, returning the id and the promise. */
  requestWithId(method, params = {}) {
    const id = this.nextId++;
    return { id, answer: this.request(method, params, { id }) };
  }

  notify(method, params = {}) {
    this.write(encode([2, method, [params]]));
  }

  /** The usual initialize params, with overrides. */
  initialize(overrides = {}) {
    return this.request('initialize', {
      protocol_versions: [1],
      kernel_version: '0.1.0',
      name: 'probe',
      options: {},
      secrets: {},
      settings: { dry_run: false, non_interactive: true },
      state_dir: '',
      fds: {},
      ...overrides,
    });
  }

  /** Wait until `pred()` is true (bounded). */
  waitFor(pred, what, timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (pred()) return Promise.resolve();
    return withTimeout(new Promise((resolve) => {
      const w = () => {
        if (pred()) {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve();
        }
      };
      this.waiters.push(w);
    }), timeoutMs, what);
  }

  closeStdin() {
    this.child.stdin.end();
  }

  /** Resolve with {code, signal} once the process ends (bounded). */
  waitExit(timeoutMs = DEFAULT_TIMEOUT_MS) {
    return withTimeout(this.exited, timeoutMs, 'the plugin to exit');
  }

  /** Stop the process if a test left it running. */
  async kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.exited;
    }
  }
}

module.exports = { PluginProcess, withTimeout };
