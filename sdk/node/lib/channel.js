'use strict';
/**
 * Stdout protection (PROTOCOL.md §1).
 *
 * Node has no dup()/dup2(), but on Linux opening `/proc/self/fd/N` of a pipe
 * yields a fresh descriptor for the same pipe, and open() returns the lowest
 * free number. So: open private copies of fds 0 and 1 for the protocol, close
 * 1 and reopen it on fd 2's target, close 0 and reopen it on /dev/null. After
 * that a stray console.log, a library writing to stdout, or a child process
 * spawned with stdio 'inherit' writes into the kernel's log, not the channel.
 *
 * Where that is impossible (no /proc, the channel is a socket, or the plugin
 * runs as a user who may not reopen the kernel's pipes) the SDK falls back to
 * protecting JavaScript only: `process.stdout` is replaced by
 * `process.stderr`, so console.log and process.stdout.write are safe, but a
 * child process must then be spawned with stdio ['ignore', 'pipe' or 2, 2],
 * never 'inherit'. When fds 0/1 can be reopened but fd 2 cannot (stderr is
 * a socket), fd 1 is pointed at /dev/null: children's stdout is lost, the
 * channel is still safe. `protection().mode` says which applies: 'fd',
 * 'fd-devnull', 'fd-partial' or 'js'.
 */
const fs = require('node:fs');
const net = require('node:net');

let state = null; // set once per process: the descriptors are process-wide

function tryOpen(path, flags) {
  try {
    return fs.openSync(path, flags);
  } catch {
    return -1;
  }
}

function closeQuiet(fd) {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}

/** Reopen fd `target` on `path`, relying on open() taking the lowest free number. */
function reopenAs(target, path, flags) {
  closeQuiet(target);
  const fd = tryOpen(path, flags);
  if (fd === target) return true;
  if (fd >= 0) closeQuiet(fd);
  return false;
}

function protectFds() {
  const inFd = tryOpen('/proc/self/fd/0', 'r');
  if (inFd < 0) return null;
  const outFd = tryOpen('/proc/self/fd/1', 'w');
  if (outFd < 0) {
    closeQuiet(inFd);
    return null;
  }
  // fd 1 should follow fd 2 into the log; when fd 2 cannot be reopened (a
  // socket, such as journald's) child output is discarded instead, which
  // still keeps the channel clean.
  const probe = tryOpen('/proc/self/fd/2', 'a');
  const target = probe >= 0 ? '/proc/self/fd/2' : '/dev/null';
  if (probe >= 0) closeQuiet(probe);
  if (!reopenAs(1, target, 'a')) {
    // fd 1 is closed and was not replaced; the JS-level guard still applies.
    return { inFd, outFd, mode: 'fd-partial' };
  }
  reopenAs(0, '/dev/null', 'r');
  return { inFd, outFd, mode: probe >= 0 ? 'fd' : 'fd-devnull' };
}

function guardJs() {
  // console.log and process.stdout.write go to stderr from now on.
  const stderr = process.stderr;
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => stderr });
}

/**
 * Protect the protocol channel. Idempotent; call it before any plugin code
 * runs (requiring the SDK does it when the cookie is set).
 *
 * @returns {{inFd: number, outFd: number, mode: 'fd' | 'fd-devnull' | 'fd-partial' | 'js'}}
 */
function protect() {
  if (state) return state;
  const fds = protectFds();
  state = fds ?? { inFd: 0, outFd: 1, mode: 'js' };
  // With fd 1 on /dev/null (or lost), console.log must still reach stderr.
  if (state.mode !== 'fd') guardJs();
  return state;
}

/** What protection is in force, or null before protect(). */
function protection() {
  return state;
}

/**
 * Streams over the protected descriptors, for the endpoint.
 *
 * @returns {{input: import('node:stream').Readable, output: import('node:stream').Writable}}
 */
function openChannel() {
  const { inFd, outFd } = protect();
  const input = pipeOrFile(inFd, 'r');
  const output = pipeOrFile(outFd, 'w');
  return { input, output };
}

function pipeOrFile(fd, dir) {
  const st = fs.fstatSync(fd);
  if (st.isFIFO() || st.isSocket()) {
    return new net.Socket({ fd, readable: dir === 'r', writable: dir === 'w', allowHalfOpen: true });
  }
  return dir === 'r'
    ? fs.createReadStream('', { fd, autoClose: false })
    : fs.createWriteStream('', { fd, autoClose: false });
}

module.exports = { protect, protection, openChannel };
