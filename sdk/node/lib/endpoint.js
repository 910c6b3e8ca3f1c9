'use strict';
/**
 * One side of a protocol connection: reads messages from a stream, answers
 * requests through a handler, and makes its own calls to the peer.
 *
 * Requests run concurrently, so a handler may await a call to the kernel
 * (a prompt in the middle of `perform`) while other messages keep flowing.
 * Each incoming request gets an AbortController that `$/cancel` trips; the
 * call context (id, method, signal) is tracked with AsyncLocalStorage, so
 * kernel calls made from a handler are cancelled along with it without the
 * plugin threading the signal through by hand.
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const { MAX_ID, MAX_MESSAGE_SIZE } = require('./constants');
const { StrictDecoder, ProtocolViolation } = require('./codec');
const { toMessage, encodeRequest, encodeResponse, encodeNotification, isMap } = require('./messages');
const errors = require('./errors');

const callContext = new AsyncLocalStorage();

/** The request being handled in the current async context, if any. */
function currentCall() {
  return callContext.getStore();
}

class Endpoint {
  /**
   * @param {object} opts
   * @param {import('node:stream').Readable} opts.input the peer's messages
   * @param {import('node:stream').Writable} opts.output our messages
   * @param {(method: string, params: object, ctx: {id: number, method: string, signal: AbortSignal}) => Promise<object|undefined>} opts.handleRequest
   * @param {(method: string, params: object) => void} [opts.handleNotification]
   * @param {(end: {status: number, reason: string}) => void} [opts.onEnd] called once, at EOF (status 0) or a violation (status 3)
   * @param {(line: string) => void} [opts.warn] one line for stderr
   */
  constructor(opts) {
    this.input = opts.input;
    this.output = opts.output;
    this.handleRequest = opts.handleRequest;
    this.handleNotification = opts.handleNotification ?? (() => {});
    this.onEnd = opts.onEnd ?? (() => {});
    this.warn = opts.warn ?? ((line) => process.stderr.write(`${line}\n`));
    this.decoder = new StrictDecoder();
    this.nextId = 1;
    /** our calls awaiting an answer: id -> {resolve, reject, method} */
    this.pending = new Map();
    /** our calls we gave up on; their late answers are expected, not violations */
    this.abandoned = new Set();
    /** the peer's requests being handled: id -> AbortController */
    this.incoming = new Map();
    this.ended = false;
  }

  /** Start reading; messages are handled as they arrive. */
  start() {
    this.input.on('data', (chunk) => this._onData(chunk));
    this.input.on('end', () => this._onEof());
    this.input.on('error', (err) => this._end(0, `input closed: ${err.message}`));
    this.output.on('error', (err) => this._end(0, `output closed: ${err.message}`));
  }

  /**
   * Call a method on the peer and wait for its answer.
   *
   * @param {string} method
   * @param {object} [params]
   * @param {{signal?: AbortSignal, timeoutMs?: number}} [opts] the signal
   *   defaults to that of the request being handled, so a cancelled handler
   *   also cancels its outstanding kernel calls
   * @returns {Promise<object>} the result map
   */
  call(method, params = {}, opts = {}) {
    if (this.ended) return Promise.reject(new errors.ProtocolError('the kernel connection is closed'));
    const signal = opts.signal ?? currentCall()?.signal;
    if (signal?.aborted) return Promise.reject(new errors.Cancelled(`${method} was cancelled`));
    const id = this._newId();
    return new Promise((resolve, reject) => {
      let timer;
      const settle = () => {
        this.pending.delete(id);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (err) => {
        settle();
        this.abandoned.add(id);
        this.notify('$/cancel', { id });
        reject(err);
      };
      const onAbort = () => giveUp(new errors.Cancelled(`${method} was cancelled`));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => giveUp(new errors.Cancelled(
          `${method} got no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      }
      this.pending.set(id, {
        method,
        resolve: (v) => { settle(); resolve(v); },
        reject: (e) => { settle(); reject(e); },
      });
      this._write(encodeRequest(id, method, params));
    });
  }

  /** Send a notification (no answer expected). */
  notify(method, params = {}) {
    if (this.ended) return;
    this._write(encodeNotification(method, params));
  }

  _newId() {
    for (let i = 0; i <= this.pending.size + this.abandoned.size; i += 1) {
      const id = this.nextId;
      this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
      if (!this.pending.has(id) && !this.abandoned.has(id)) return id;
    }
    throw new errors.ProtocolError('no free request id');
  }

  _write(bytes) {
    if (!this.ended || this.output.writable) this.output.write(bytes);
  }

  _onData(chunk) {
    if (this.ended) return;
    let frames;
    try {
      frames = this.decoder.feed(chunk);
    } catch (err) {
      this._violation(err);
      return;
    }
    for (const { value, bytes } of frames) {
      if (this.ended) return;
      let msg;
      try {
        msg = toMessage(value, bytes);
      } catch (err) {
        if (err instanceof ProtocolViolation && err.requestId !== undefined) {
          // A well-formed array with a request id: answer it and go on (§3.1).
          this._respondError(err.requestId, new errors.InvalidRequest(err.reason));
          continue;
        }
        this._violation(err);
        return;
      }
      this._dispatch(msg, bytes);
    }
  }

  _dispatch(msg, bytes) {
    if (msg.kind === 'request') this._onRequest(msg);
    else if (msg.kind === 'response') this._onResponse(msg, bytes);
    else this._onNotification(msg);
  }

  _onRequest({ id, method, params }) {
    if (this.incoming.has(id)) {
      this._respondError(id, new errors.InvalidRequest(`request id ${id} is already in flight`));
      return;
    }
    if (method === '$/ping') {
      this._respond(id, {});
      return;
    }
    const controller = new AbortController();
    this.incoming.set(id, controller);
    const ctx = { id, method, signal: controller.signal };
    callContext.run(ctx, () => {
      Promise.resolve()
        .then(() => this.handleRequest(method, params, ctx))
        .then(
          (result) => {
            if (result !== undefined && !isMap(result)) {
              throw new errors.InternalError(`${method} returned a ${typeof result}, not a map`);
            }
            this._finish(id, () => this._respond(id, result ?? {}));
          },
          (err) => this._finish(id, () => this._respondError(id, err, controller.signal.aborted)),
        )
        .catch((err) => this._finish(id, () => this._respondError(id, err)));
    });
  }

  _finish(id, send) {
    if (!this.incoming.has(id)) return;
    this.incoming.delete(id);
    send();
  }

  _respond(id, result) {
    if (this.ended) return;
    let bytes;
    try {
      bytes = encodeResponse(id, null, result);
    } catch (err) {
      this._respondError(id, new errors.InternalError(`result could not be encoded: ${err.message}`));
      return;
    }
    if (bytes.length > MAX_MESSAGE_SIZE) {
      this._respondError(id, new errors.InternalError('result is larger than the 16 MiB cap'));
      return;
    }
    this._write(bytes);
  }

  _respondError(id, err, cancelled = false) {
    if (this.ended) return;
    let wire = errors.errorToWire(err, cancelled);
    let bytes;
    try {
      bytes = encodeResponse(id, wire, null);
    } catch {
      wire = { code: errors.InternalError.code, type: errors.InternalError.type,
        message: 'error data could not be encoded' };
      bytes = encodeResponse(id, wire, null);
    }
    this._write(bytes);
  }

  _onResponse({ id, error, result }, bytes) {
    const waiter = this.pending.get(id);
    if (!waiter) {
      if (this.abandoned.delete(id)) return;
      this._violation(new ProtocolViolation(`response id ${id} matches no request in flight`, bytes));
      return;
    }
    if (error) waiter.reject(errors.errorFromWire(error));
    else waiter.resolve(isMap(result) ? result : {});
  }

  _onNotification({ method, params }) {
    if (method === '$/cancel') {
      const controller = this.incoming.get(params.id);
      if (controller && !controller.signal.aborted) {
        controller.abort(new errors.Cancelled(`the kernel cancelled request ${params.id}`));
      }
      return;
    }
    try {
      this.handleNotification(method, params);
    } catch (err) {
      this.warn(`error handling notification ${method}: ${err.message}`);
    }
  }

  _violation(err) {
    const text = err instanceof ProtocolViolation ? err.message : String(err);
    this.warn(`certkernel plugin: protocol violation from the kernel: ${text}`);
    this._end(3, text);
  }

  _onEof() {
    try {
      this.decoder.close();
    } catch (err) {
      this._violation(err);
      return;
    }
    this._end(0, 'end of input');
  }

  _end(status, reason) {
    if (this.ended) return;
    this.ended = true;
    for (const controller of this.incoming.values()) {
      controller.abort(new errors.Cancelled('the kernel connection closed'));
    }
    for (const waiter of this.pending.values()) {
      waiter.reject(new errors.ProtocolError(`the kernel connection closed (${reason})`));
    }
    this.onEnd({ status, reason });
  }
}

module.exports = { Endpoint, currentCall };
