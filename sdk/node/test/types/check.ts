// Compiled (never run) by `npm run typecheck`: proves lib/index.d.ts describes
// the API the way a TypeScript plugin author uses it.
import * as sdk from '../../lib/index';
class W extends sdk.Authenticator {
  name = 'w';
  challengeTypes = ['http-01'];
  async perform(challenges: sdk.Challenge[], ctx: sdk.CallContext): Promise<void> {
    const v = await this.kernel.input('x', { cliFlag: '--w-path' });
    if (ctx.signal.aborted || v === null) throw new sdk.MissingCommandlineFlag('m', { flag: '--w-path' });
    this.kernel.progress(challenges[0].uriPath, { done: 1, total: 2 });
    const picked = await this.kernel.call('display/menu', { message: 'm', choices: ['a'], cli_flag: '--w-pick' });
    const index: number = picked.index;
    const wire: sdk.WireChallenge = challenges[0].raw as unknown as sdk.WireChallenge;
    console.log(index, wire.key_authorization);
    // @ts-expect-error `choices` is string[] in WireMethods (generated from protocol/methods.py)
    void this.kernel.call('display/menu', { message: 'm', choices: 'a' });
    // @ts-expect-error `perform` is sent by the kernel, not by a plugin
    void this.kernel.call('perform', { challenges: [] });
  }
  async cleanup(c: sdk.Challenge[]): Promise<void> {
    const root: string | undefined = this.perDomainValue(c[0], 'map') ?? c[0].perDomain?.map;
    console.log(root);
  }
}
class I extends sdk.Installer {
  async getAllNames(): Promise<string[]> { return []; }
  async deployCert(t: sdk.DeployTarget): Promise<void> { await this.kernel.checkpointAdd([t.certPath]); }
}
const Both = sdk.AuthenticatorRole(sdk.InstallerRole(sdk.Plugin));
new Both().getChallPref('x');
sdk.serve(W); sdk.serve(new I());
const e: sdk.WireError = sdk.errorToWire(new sdk.PluginError('x'));
console.log(e.code, sdk.constants.COOKIE);
