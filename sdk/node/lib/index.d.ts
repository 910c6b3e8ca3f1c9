// Types for @certkernel/sdk: write certkernel plugins in JavaScript.
// The wire protocol is protocol/PROTOCOL.md; names here are its methods in camelCase.

/// <reference types="node" />
import type { Readable, Writable } from 'node:stream';

export type JsonMap = { [key: string]: unknown };

/** A challenge to publish; every value is computed by the kernel (PROTOCOL.md §5.2). */
export interface Challenge {
  identifier: string;
  identifierType: 'dns' | 'ip' | string;
  wildcard: boolean;
  type: 'http-01' | 'dns-01' | 'tls-alpn-01' | string;
  token: string;
  keyAuthorization: string;
  /** what must be published: the file content (http-01) or TXT value (dns-01) */
  validation: string;
  /** dns-01: `_acme-challenge.<identifier>` */
  validationDomainName: string;
  /** http-01: `/.well-known/acme-challenge/<token>` */
  uriPath: string;
  /**
   * map option -> this name's value, for a plugin with per-domain options
   * (PROTOCOL.md §8); undefined from a kernel too old to send it
   */
  perDomain?: { [option: string]: string };
  /** the wire map, unknown fields included */
  raw: JsonMap;
}

/** A certificate lineage (PROTOCOL.md §5.3); paths are `live/` links. */
export interface Lineage {
  name: string;
  certPath: string;
  keyPath: string;
  chainPath: string;
  fullchainPath: string;
  domains: string[];
  raw: JsonMap;
}

/** Where deploy_cert installs a certificate. */
export interface DeployTarget {
  domain: string;
  certPath: string;
  keyPath: string;
  chainPath: string;
  fullchainPath: string;
}

/** Passed last to every handler. */
export interface CallContext {
  id: number;
  method: string;
  /** aborted when the kernel sends `$/cancel` for this request */
  signal: AbortSignal;
  /** the request's params as received */
  params: JsonMap;
}

export interface Settings {
  dry_run?: boolean;
  non_interactive?: boolean;
  staging?: boolean;
  http01_port?: number;
  http01_address?: string;
  https_port?: number;
  debug_challenges?: boolean;
  verbosity?: number;
  config_dir?: string;
  work_dir?: string;
  logs_dir?: string;
  [key: string]: unknown;
}

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface CallOptions {
  /** defaults to the signal of the request being handled */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The requests a plugin may send the kernel, by wire name (from `WireMethods`). */
export type KernelRequest = {
  [M in keyof WireMethods]: WireMethods[M]['kind'] extends 'request'
    ? (WireMethods[M]['direction'] extends 'kernel → plugin' ? never : M) : never
}[keyof WireMethods];

/** Callbacks into the kernel (PROTOCOL.md §5.1, §5.4, §5.5). */
export class Kernel {
  constructor(endpoint: Endpoint);
  /** A protocol method by its wire name: params and result typed by `WireMethods`. */
  call<M extends KernelRequest>(method: M, params: WireMethods[M]['params'], opts?: CallOptions): Promise<WireMethods[M]['result']>;
  /** A method the registry does not know (an extension both sides agreed on). */
  call<M extends string>(method: M extends keyof WireMethods ? never : M, params?: JsonMap, opts?: CallOptions): Promise<JsonMap>;
  sendNotification(method: string, params?: JsonMap): void;
  log(level: LogLevel, message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  progress(message: string, opts?: { done?: number; total?: number }): void;
  ping(): Promise<void>;
  showMessage(message: string, opts?: { pause?: boolean }): Promise<void>;
  input(message: string, opts?: { default?: string; cliFlag?: string }): Promise<string | null>;
  yesno(message: string, opts?: { default?: boolean; cliFlag?: string; yesLabel?: string; noLabel?: string }): Promise<boolean>;
  menu(message: string, choices: string[], opts?: { default?: number; cliFlag?: string }): Promise<number | null>;
  checklist(message: string, tags: string[], opts?: { default?: string[]; cliFlag?: string }): Promise<string[] | null>;
  directorySelect(message: string, opts?: { default?: string; cliFlag?: string }): Promise<string | null>;
  storageGet(key: string): Promise<unknown | undefined>;
  storagePut(key: string, value: unknown): Promise<void>;
  storageDelete(key: string): Promise<void>;
  checkpointAdd(files: string[], opts?: { temporary?: boolean }): Promise<void>;
  checkpointRegisterNew(files: string[], opts?: { temporary?: boolean }): Promise<void>;
  checkpointFinalize(title: string): Promise<void>;
  checkpointRevertTemporary(): Promise<void>;
  checkpointRollback(count: number): Promise<void>;
  /** `challenge/publish` (manifest `[needs] challenge_board`): serve a handed http-01 challenge. */
  challengePublish(token: string, keyAuthorization: string): Promise<void>;
  /** `challenge/withdraw`: stop serving `token`. */
  challengeWithdraw(token: string): Promise<void>;
}

/** Fields every plugin has; filled from `initialize` before `prepare`. */
export class Plugin {
  /** must match the manifest's name */
  name: string;
  version: string;
  description: string;
  /** `autohsts`, `renew_deploy`, `cancel`; derived from the methods defined when undefined */
  capabilities: string[] | undefined;
  options: JsonMap;
  secrets: Record<string, string>;
  settings: Settings;
  stateDir: string;
  fds: Record<string, number[]>;
  protocolVersion: number;
  kernelVersion?: string;
  kernel: Kernel;
  /** the abort signal of the request being handled */
  readonly signal: AbortSignal | undefined;
  /** true once `$/cancel` arrived for the request being handled */
  readonly cancelled: boolean;
  prepare(ctx?: CallContext): Promise<void>;
  moreInfo(ctx?: CallContext): Promise<string>;
  shutdown(ctx?: CallContext): Promise<void>;
}

export interface AuthenticatorMethods {
  challengeTypes: string[];
  getChallPref(domain: string, ctx?: CallContext): Promise<string[]>;
  /** the per-domain map option's value for the challenge's name (PROTOCOL.md §8) */
  perDomainValue(challenge: Challenge, option: string): string | undefined;
  perform?(challenges: Challenge[], ctx: CallContext): Promise<void>;
  cleanup?(challenges: Challenge[], ctx: CallContext): Promise<void>;
}

export interface InstallerMethods {
  getAllNames?(ctx: CallContext): Promise<string[]>;
  deployCert?(target: DeployTarget, ctx: CallContext): Promise<void>;
  supportedEnhancements(ctx?: CallContext): Promise<string[]>;
  enhance(domain: string, enhancement: string, options: unknown, ctx?: CallContext): Promise<void>;
  save(title: string | null, temporary: boolean, ctx?: CallContext): Promise<void>;
  configTest(ctx?: CallContext): Promise<void>;
  restart(ctx?: CallContext): Promise<void>;
  recoveryRoutine(ctx?: CallContext): Promise<void>;
  renewDeploy?(lineage: Lineage, ctx: CallContext): Promise<void>;
  updateAutohsts?(domain: string, ctx: CallContext): Promise<void>;
  deployAutohsts?(lineage: Lineage, ctx: CallContext): Promise<void>;
  enableAutohsts?(lineage: Lineage, domains: string[], ctx: CallContext): Promise<void>;
}

export class Authenticator extends Plugin implements AuthenticatorMethods {
  challengeTypes: string[];
  getChallPref(domain: string, ctx?: CallContext): Promise<string[]>;
  perDomainValue(challenge: Challenge, option: string): string | undefined;
}
export class Installer extends Plugin {
  supportedEnhancements(ctx?: CallContext): Promise<string[]>;
  enhance(domain: string, enhancement: string, options: unknown, ctx?: CallContext): Promise<void>;
  save(title: string | null, temporary: boolean, ctx?: CallContext): Promise<void>;
  configTest(ctx?: CallContext): Promise<void>;
  restart(ctx?: CallContext): Promise<void>;
  recoveryRoutine(ctx?: CallContext): Promise<void>;
}
export class AuthenticatorInstaller extends Installer {
  challengeTypes: string[];
  getChallPref(domain: string, ctx?: CallContext): Promise<string[]>;
  perDomainValue(challenge: Challenge, option: string): string | undefined;
}
type Ctor<T = object> = new (...args: any[]) => T;
export function AuthenticatorRole<B extends Ctor<Plugin>>(Base: B): B & Ctor<AuthenticatorMethods>;
export function InstallerRole<B extends Ctor<Plugin>>(Base: B): B & Ctor<InstallerMethods>;
export function capabilitiesOf(plugin: Plugin): string[];

export interface ErrorOptions {
  data?: unknown;
  code?: number;
  cause?: unknown;
}
/** Root of the errors the SDK puts on the wire as `{code, type, message, data}`. */
export class CertkernelError extends Error {
  constructor(message?: string, options?: ErrorOptions);
  static readonly code: number;
  static readonly type: string;
  readonly code: number;
  readonly type: string;
  data: unknown;
}
export class ParseError extends CertkernelError {}
export class InvalidRequest extends CertkernelError {}
export class MethodNotFound extends CertkernelError {}
export class InvalidParams extends CertkernelError {}
export class InternalError extends CertkernelError {}
export class Cancelled extends CertkernelError {}
export class PluginError extends CertkernelError {
  /** set when the peer sent a type this SDK does not know */
  remoteType?: string;
}
export class MisconfigurationError extends PluginError {}
export class NoInstallationError extends PluginError {}
export class NotSupportedError extends PluginError {}
export class MissingCommandlineFlag extends PluginError {
  constructor(message?: string, options?: ErrorOptions & { flag?: string });
  readonly flag: string | undefined;
}
export class PluginEnhancementAlreadyPresent extends PluginError {}
export class PluginStorageError extends PluginError {}
export class ProtocolError extends PluginError {}

export interface WireError {
  code: number;
  type: string;
  message: string;
  data?: unknown;
}
export function errorToWire(err: unknown, cancelled?: boolean): WireError;
export function errorFromWire(map: unknown): CertkernelError;

export type PluginClass = new () => Plugin;

/** Serve a plugin on stdin/stdout; the process exits when the kernel is done. */
export function serve(plugin: PluginClass | Plugin, opts?: { versions?: number[] }): Endpoint;
export function startedByKernel(env?: NodeJS.ProcessEnv): boolean;
export function negotiate(offered: number[], supported: number[]): number;

export interface Protection {
  inFd: number;
  outFd: number;
  /** 'fd': fd 1 follows stderr; 'fd-devnull': fd 1 is /dev/null; 'fd-partial'/'js': only console/process.stdout are guarded */
  mode: 'fd' | 'fd-devnull' | 'fd-partial' | 'js';
}
export function protect(): Protection;
export function protection(): Protection | null;
export function currentCall(): { id: number; method: string; signal: AbortSignal } | undefined;

export type Message =
  | { kind: 'request'; id: number; method: string; params: JsonMap }
  | { kind: 'response'; id: number; error: JsonMap | null; result: unknown }
  | { kind: 'notification'; method: string; params: JsonMap };

export class ProtocolViolation extends Error {
  reason: string;
  offending: Buffer;
  requestId?: number;
}
export class StrictDecoder {
  constructor(maxSize?: number);
  readonly pending: number;
  feed(chunk: Uint8Array): Array<{ value: unknown; bytes: Buffer }>;
  close(): void;
}
export function encode(value: unknown): Buffer;
export function decodeOne(bytes: Uint8Array): unknown;
export function toMessage(value: unknown, bytes: Uint8Array): Message;

export class Endpoint {
  constructor(opts: {
    input: Readable;
    output: Writable;
    handleRequest: (method: string, params: JsonMap, ctx: { id: number; method: string; signal: AbortSignal }) => Promise<JsonMap | undefined>;
    handleNotification?: (method: string, params: JsonMap) => void;
    onEnd?: (end: { status: number; reason: string }) => void;
    warn?: (line: string) => void;
  });
  start(): void;
  call(method: string, params?: JsonMap, opts?: CallOptions): Promise<JsonMap>;
  notify(method: string, params?: JsonMap): void;
}

export class PluginServer {
  constructor(plugin: Plugin, opts?: { versions?: number[] });
  handle(method: string, params: JsonMap, ctx: CallContext): Promise<JsonMap>;
}

export const constants: {
  COOKIE: string;
  COOKIE_ENV: string;
  VERSIONS_ENV: string;
  NAME_ENV: string;
  SUPPORTED_VERSIONS: readonly number[];
  MAX_MESSAGE_SIZE: number;
  MAX_ID: number;
  REQUEST: 0;
  RESPONSE: 1;
  NOTIFICATION: 2;
  EXIT_OK: 0;
  EXIT_NO_COOKIE: 2;
  EXIT_VIOLATION: 3;
};

// BEGIN GENERATED wire-types by scripts/gen-protocol.py from protocol/methods.py; do not edit
/** A challenge map exactly as it travels (PROTOCOL.md §5.2). */
export interface WireChallenge { identifier: string; type: string; token: string; key_authorization: string; validation: string; identifier_type?: string; wildcard?: boolean; validation_domain_name?: string; uri_path?: string; per_domain?: { [key: string]: string } }
/** A lineage map exactly as it travels (PROTOCOL.md §5.3). */
export interface WireLineage { name: string; cert_path: string; key_path: string; chain_path: string; fullchain_path: string; domains?: string[] }
/**
 * Every protocol method: its params and result maps field for field,
 * snake_case as on the wire (PROTOCOL.md §4-§5; `Kernel.call` takes these).
 */
export interface WireMethods {
  'initialize': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { protocol_versions: number[]; kernel_version: string; name: string; options?: { [key: string]: unknown }; secrets?: { [key: string]: string }; settings?: { [key: string]: unknown }; state_dir?: string; fds?: { [key: string]: number[] } };
    result: { protocol_version: number; name: string; version: string; capabilities?: string[] };
    deadlineSeconds: 15;
  };
  'prepare': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'shutdown': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 15;
  };
  'exit': {
    kind: 'notification';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: null;
    deadlineSeconds: null;
  };
  '$/ping': {
    kind: 'request';
    direction: 'either direction';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 15;
  };
  '$/cancel': {
    kind: 'notification';
    direction: 'either direction';
    params: { id: number };
    result: null;
    deadlineSeconds: null;
  };
  '$/log': {
    kind: 'notification';
    direction: 'plugin → kernel';
    params: { level: string; message: string };
    result: null;
    deadlineSeconds: null;
  };
  '$/progress': {
    kind: 'notification';
    direction: 'plugin → kernel';
    params: { message: string; done?: number; total?: number };
    result: null;
    deadlineSeconds: null;
  };
  'more_info': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: { text: string };
    deadlineSeconds: 60;
  };
  'get_chall_pref': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { domain: string };
    result: { challenges: string[] };
    deadlineSeconds: 60;
  };
  'perform': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { challenges: WireChallenge[] };
    result: Record<string, never>;
    deadlineSeconds: 300;
  };
  'cleanup': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { challenges: WireChallenge[] };
    result: Record<string, never>;
    deadlineSeconds: 300;
  };
  'challenge/publish': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { token: string; key_authorization: string };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'challenge/withdraw': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { token: string };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'get_all_names': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: { names: string[] };
    deadlineSeconds: 60;
  };
  'deploy_cert': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { domain: string; cert_path: string; key_path: string; chain_path: string; fullchain_path: string };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'supported_enhancements': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: { enhancements: string[] };
    deadlineSeconds: 60;
  };
  'enhance': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { domain: string; enhancement: string; options?: unknown };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'save': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { title?: string; temporary?: boolean };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'config_test': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 120;
  };
  'restart': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 120;
  };
  'recovery_routine': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'update_autohsts': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { domain: string };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'deploy_autohsts': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { lineage: WireLineage };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'enable_autohsts': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { lineage: WireLineage; domains: string[] };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'renew_deploy': {
    kind: 'request';
    direction: 'kernel → plugin';
    params: { lineage: WireLineage };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'display/notification': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { message: string; pause?: boolean };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'display/input': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { message: string; default?: string; cli_flag?: string };
    result: { ok: boolean; value: string };
    deadlineSeconds: 60;
  };
  'display/yesno': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { message: string; yes_label?: string; no_label?: string; default?: boolean; cli_flag?: string };
    result: { value: boolean };
    deadlineSeconds: 60;
  };
  'display/menu': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { message: string; choices: string[]; default?: number; cli_flag?: string };
    result: { ok: boolean; index: number };
    deadlineSeconds: 60;
  };
  'display/checklist': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { message: string; tags: string[]; default?: string[]; cli_flag?: string };
    result: { ok: boolean; values: string[] };
    deadlineSeconds: 60;
  };
  'display/directory_select': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { message: string; default?: string; cli_flag?: string };
    result: { ok: boolean; value: string };
    deadlineSeconds: 60;
  };
  'storage/get': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { key: string };
    result: { found: boolean; value?: unknown };
    deadlineSeconds: 60;
  };
  'storage/put': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { key: string; value: unknown };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'storage/delete': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { key: string };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'checkpoint/add': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { files: string[]; temporary?: boolean };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'checkpoint/register_new': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { files: string[]; temporary?: boolean };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'checkpoint/finalize': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { title: string };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'checkpoint/revert_temporary': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: Record<string, never>;
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
  'checkpoint/rollback': {
    kind: 'request';
    direction: 'plugin → kernel';
    params: { count?: number };
    result: Record<string, never>;
    deadlineSeconds: 60;
  };
}
// END GENERATED wire-types
