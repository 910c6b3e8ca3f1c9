'use strict';
/**
 * The protocol's error types (PROTOCOL.md §6) as JavaScript classes.
 *
 * A plugin throws these; the SDK turns them into error maps
 * `{code, type, message, data}` and the kernel raises the matching class of
 * `certkernel.errors`. Errors the kernel sends back (a prompt refused in a
 * non-interactive run) arrive as the same classes, so a plugin can let them
 * propagate and the user still sees the kernel's precise error.
 */

/** Root of every error the SDK knows how to put on the wire. */
class CertkernelError extends Error {
  /**
   * @param {string} [message] one line a user can act on
   * @param {{data?: unknown, code?: number, cause?: unknown}} [options]
   */
  constructor(message = '', options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = this.constructor.type;
    /** details: `flag`, `output`, `traceback` ... */
    this.data = options.data;
    /** set when a peer sent a code this class does not normally carry */
    this._code = options.code;
  }

  /** the numeric class of fault */
  get code() {
    return this._code ?? this.constructor.code;
  }

  /** the precise error type name that travels in `type` */
  get type() {
    return this.constructor.type;
  }
}
CertkernelError.code = -32000;
CertkernelError.type = 'PluginError';

/** Declares one error class with its wire code and type name. */
function define(type, code, Base) {
  const cls = { [type]: class extends Base {} }[type];
  cls.code = code;
  cls.type = type;
  return cls;
}

const ParseError = define('ParseError', -32700, CertkernelError);
const InvalidRequest = define('InvalidRequest', -32600, CertkernelError);
const MethodNotFound = define('MethodNotFound', -32601, CertkernelError);
const InvalidParams = define('InvalidParams', -32602, CertkernelError);
const InternalError = define('InternalError', -32603, CertkernelError);
const Cancelled = define('Cancelled', -32800, CertkernelError);

const PluginError = define('PluginError', -32000, CertkernelError);
const MisconfigurationError = define('MisconfigurationError', -32000, PluginError);
const NoInstallationError = define('NoInstallationError', -32000, PluginError);
const NotSupportedError = define('NotSupportedError', -32000, PluginError);
const PluginEnhancementAlreadyPresent = define('PluginEnhancementAlreadyPresent', -32000, PluginError);
const PluginStorageError = define('PluginStorageError', -32000, PluginError);
const ProtocolError = define('ProtocolError', -32000, PluginError);

/** A prompt was needed in a non-interactive run; `data.flag` names the flag. */
class MissingCommandlineFlag extends PluginError {
  /**
   * @param {string} message
   * @param {{flag?: string, data?: unknown, code?: number}} [options]
   */
  constructor(message = '', options = {}) {
    const data = options.data ?? (options.flag ? { flag: options.flag } : undefined);
    super(message, { ...options, data });
  }

  /** the command-line flag that would have answered the prompt */
  get flag() {
    const d = this.data;
    return d && typeof d === 'object' && typeof d.flag === 'string' ? d.flag : undefined;
  }
}
MissingCommandlineFlag.code = -32000;
MissingCommandlineFlag.type = 'MissingCommandlineFlag';

const ALL = [
  ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, Cancelled,
  PluginError, MisconfigurationError, NoInstallationError, NotSupportedError,
  MissingCommandlineFlag, PluginEnhancementAlreadyPresent, PluginStorageError, ProtocolError,
];
const BY_TYPE = new Map(ALL.map((cls) => [cls.type, cls]));

/**
 * Split a message into its first line and the rest: the spec asks for one
 * line a user can act on, and the rest must not be lost.
 */
function oneLine(text) {
  const lines = String(text).split(/\r?\n/).map((l) => l.trimEnd());
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return { line: '', rest: '' };
  return { line: lines[first].trim(), rest: lines.slice(first + 1).join('\n').trim() };
}

/**
 * Build the wire error map for anything a handler threw.
 *
 * @param {unknown} err what was thrown
 * @param {boolean} cancelled the call had been cancelled when it failed
 * @returns {{code: number, type: string, message: string, data?: unknown}}
 */
function errorToWire(err, cancelled = false) {
  if (err instanceof CertkernelError) {
    const { line, rest } = oneLine(err.message);
    const out = { code: err.code, type: err.type, message: line || err.type };
    if (err.data !== undefined) out.data = err.data;
    else if (rest) out.data = { details: rest };
    return out;
  }
  if (cancelled) {
    return { code: Cancelled.code, type: Cancelled.type, message: 'the request was cancelled' };
  }
  const isErr = err instanceof Error;
  const name = isErr ? err.name : typeof err;
  const { line } = oneLine(isErr ? err.message : String(err));
  const traceback = isErr && err.stack ? String(err.stack) : `${name}: ${String(err)}`;
  return {
    code: InternalError.code,
    type: InternalError.type,
    message: `unexpected ${name}${line ? `: ${line}` : ''}`,
    data: { traceback },
  };
}

/**
 * Turn an error map received from the peer into an error object. Unknown
 * types become PluginError keeping the peer's code (spec §6).
 */
function errorFromWire(map) {
  const m = map && typeof map === 'object' ? map : {};
  const message = typeof m.message === 'string' ? m.message : 'error without a message';
  const code = Number.isInteger(m.code) ? m.code : undefined;
  const cls = BY_TYPE.get(m.type);
  if (cls) {
    return new cls(message, { data: m.data, code: code === cls.code ? undefined : code });
  }
  const err = new PluginError(message, { data: m.data, code });
  err.remoteType = typeof m.type === 'string' ? m.type : undefined;
  return err;
}

module.exports = {
  CertkernelError,
  ParseError,
  InvalidRequest,
  MethodNotFound,
  InvalidParams,
  InternalError,
  Cancelled,
  PluginError,
  MisconfigurationError,
  NoInstallationError,
  NotSupportedError,
  MissingCommandlineFlag,
  PluginEnhancementAlreadyPresent,
  PluginStorageError,
  ProtocolError,
  errorToWire,
  errorFromWire,
};
