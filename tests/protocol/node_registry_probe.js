'use strict';
// Driven by tests/protocol/test_registry.py: runs the Node SDK's real code
// against cases derived from protocol/methods.py and prints what happened.
//   stdin:  {"dispatch": [{"method", "params"}...]}
//   stdout: {"dispatch": [{"ok", "result"|"type","message"}...], "kernel": [[method, params]...]}
const path = require('node:path');
const lib = path.resolve(process.argv[2]);
const { dispatch } = require(path.join(lib, 'dispatch.js'));
const { Kernel } = require(path.join(lib, 'kernel.js'));
const { PluginServer } = require(path.join(lib, 'serve.js'));

// A plugin with every handler, answering with the simplest valid value.
const plugin = {
  async prepare() {}, async shutdown() {}, async moreInfo() { return 'text'; },
  async getChallPref() { return ['http-01']; }, async perform() {}, async cleanup() {},
  async getAllNames() { return ['example.org']; }, async deployCert() {},
  async supportedEnhancements() { return ['redirect']; }, async enhance() {}, async save() {},
  async configTest() {}, async restart() {}, async recoveryRoutine() {},
  async renewDeploy() {}, async updateAutohsts() {}, async deployAutohsts() {},
  async enableAutohsts() {},
};

// Every Kernel method called with every argument and option it takes.
async function kernelCalls() {
  const sent = [];
  const ep = {
    call(method, params) {
      sent.push([method, params]);
      const answers = {
        'display/input': { ok: true, value: 'v' }, 'display/directory_select': { ok: true, value: 'v' },
        'display/yesno': { value: true }, 'display/menu': { ok: true, index: 0 },
        'display/checklist': { ok: true, values: ['a'] }, 'storage/get': { found: true, value: 1 },
      };
      return Promise.resolve(answers[method] || {});
    },
    notify(method, params) { sent.push([method, params]); },
  };
  const k = new Kernel(ep);
  k.log('info', 'm');
  k.progress('m', { done: 1, total: 2 });
  await k.ping();
  await k.showMessage('m', { pause: true });
  await k.input('m', { default: 'd', cliFlag: '--f' });
  await k.yesno('m', { default: true, cliFlag: '--f', yesLabel: 'Y', noLabel: 'N' });
  await k.menu('m', ['a'], { default: 0, cliFlag: '--f' });
  await k.checklist('m', ['a'], { default: ['a'], cliFlag: '--f' });
  await k.directorySelect('m', { default: '/d', cliFlag: '--f' });
  await k.storageGet('k');
  await k.storagePut('k', 1);
  await k.storageDelete('k');
  await k.checkpointAdd(['/f'], { temporary: true });
  await k.checkpointRegisterNew(['/f'], { temporary: true });
  await k.checkpointFinalize('t');
  await k.checkpointRevertTemporary();
  await k.checkpointRollback(1);
  await k.challengePublish('tok', 'tok.thumb');
  await k.challengeWithdraw('tok');
  return sent;
}

async function main() {
  const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const out = { dispatch: [], kernel: await kernelCalls() };
  for (const c of input.dispatch) {
    const ctx = { id: 1, method: c.method, signal: new AbortController().signal };
    try {
      const result = c.method === 'initialize'
        ? await new PluginServer({ ...plugin, name: 'registry-probe', version: '1.0.0' }).handle(c.method, c.params, ctx)
        : await dispatch(plugin, c.method, c.params, ctx);
      out.dispatch.push({ ok: true, result });
    } catch (err) {
      out.dispatch.push({ ok: false, type: err.type || err.name, message: String(err.message) });
    }
  }
  process.stdout.write(JSON.stringify(out));
}
main();
