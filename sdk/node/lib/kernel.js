'use strict';
/**
 * The plugin's handle on the kernel (PROTOCOL.md §5.1, §5.2, §5.4, §5.5).
 *
 * Plugins never touch the terminal or the kernel's files: they ask. Every
 * method is a thin, typed wrapper over one protocol call, so the names and
 * fields here are the spec's. Calls made while a request is being handled are
 * cancelled with it (see endpoint.js).
 */
const LEVELS = new Set(['debug', 'info', 'warning', 'error']);

/** Drop undefined fields: optional fields are absent on the wire, not nil. */
function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

class Kernel {
  /** @param {import('./endpoint').Endpoint} endpoint */
  constructor(endpoint) {
    this._ep = endpoint;
  }

  /** Call any kernel method by its wire name. */
  call(method, params = {}, opts = {}) {
    return this._ep.call(method, params, opts);
  }

  /** Send any notification by its wire name. */
  sendNotification(method, params = {}) {
    this._ep.notify(method, params);
  }

  /** `$/log`: a line in the kernel's log (and terminal, by verbosity). */
  log(level, message) {
    const lvl = LEVELS.has(level) ? level : 'info';
    this._ep.notify('$/log', { level: lvl, message: String(message) });
  }

  debug(message) { this.log('debug', message); }

  info(message) { this.log('info', message); }

  warning(message) { this.log('warning', message); }

  error(message) { this.log('error', message); }

  /** `$/progress`: what the plugin is waiting for. */
  progress(message, { done, total } = {}) {
    this._ep.notify('$/progress', compact({ message: String(message), done, total }));
  }

  /** `$/ping` the kernel. */
  async ping() {
    await this._ep.call('$/ping', {});
  }

  /**
   * `display/notification`: show the user a message (a request, answered once
   * shown; with `pause`, after the user pressed Enter). Protocol notifications
   * (no answer) are `log` and `progress`.
   */
  async showMessage(message, { pause } = {}) {
    await this._ep.call('display/notification', compact({ message, pause }));
  }

  /** `display/input` -> the value, or null when the user cancelled. */
  async input(message, { default: dflt, cliFlag } = {}) {
    const r = await this._ep.call('display/input', compact({ message, default: dflt, cli_flag: cliFlag }));
    return r.ok ? r.value : null;
  }

  /** `display/yesno` -> boolean. */
  async yesno(message, { default: dflt, cliFlag, yesLabel, noLabel } = {}) {
    const r = await this._ep.call('display/yesno', compact({
      message, yes_label: yesLabel, no_label: noLabel, default: dflt, cli_flag: cliFlag,
    }));
    return Boolean(r.value);
  }

  /** `display/menu` -> the chosen index, or null when cancelled. */
  async menu(message, choices, { default: dflt, cliFlag } = {}) {
    const r = await this._ep.call('display/menu', compact({ message, choices, default: dflt, cli_flag: cliFlag }));
    return r.ok ? r.index : null;
  }

  /** `display/checklist` -> the chosen tags, or null when cancelled. */
  async checklist(message, tags, { default: dflt, cliFlag } = {}) {
    const r = await this._ep.call('display/checklist', compact({ message, tags, default: dflt, cli_flag: cliFlag }));
    return r.ok ? r.values : null;
  }

  /** `display/directory_select` -> a path, or null when cancelled. */
  async directorySelect(message, { default: dflt, cliFlag } = {}) {
    const r = await this._ep.call('display/directory_select', compact({ message, default: dflt, cli_flag: cliFlag }));
    return r.ok ? r.value : null;
  }

  /** `storage/get` -> the value, or undefined when the key is absent. */
  async storageGet(key) {
    const r = await this._ep.call('storage/get', { key });
    return r.found ? r.value : undefined;
  }

  /** `storage/put`. */
  async storagePut(key, value) {
    await this._ep.call('storage/put', { key, value });
  }

  /** `storage/delete`. */
  async storageDelete(key) {
    await this._ep.call('storage/delete', { key });
  }

  /** `checkpoint/add`: register files before changing them. */
  async checkpointAdd(files, { temporary = false } = {}) {
    await this._ep.call('checkpoint/add', { files, temporary });
  }

  /** `checkpoint/register_new`: files about to be created. */
  async checkpointRegisterNew(files, { temporary = false } = {}) {
    await this._ep.call('checkpoint/register_new', { files, temporary });
  }

  /** `checkpoint/finalize`. */
  async checkpointFinalize(title) {
    await this._ep.call('checkpoint/finalize', { title });
  }

  /** `checkpoint/revert_temporary`. */
  async checkpointRevertTemporary() {
    await this._ep.call('checkpoint/revert_temporary', {});
  }

  /** `checkpoint/rollback`. */
  async checkpointRollback(count) {
    await this._ep.call('checkpoint/rollback', { count });
  }

  /**
   * `challenge/publish`: have the kernel serve `keyAuthorization` for `token`
   * from its challenge board. Only for a challenge handed to this plugin's
   * `perform`, and only with `[needs] challenge_board = true` in plugin.toml.
   */
  async challengePublish(token, keyAuthorization) {
    await this._ep.call('challenge/publish', { token, key_authorization: keyAuthorization });
  }

  /** `challenge/withdraw`: stop serving `token` (harmless when it is not published). */
  async challengeWithdraw(token) {
    await this._ep.call('challenge/withdraw', { token });
  }
}

module.exports = { Kernel };
