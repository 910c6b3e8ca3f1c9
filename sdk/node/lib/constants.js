'use strict';
/**
 * Wire constants of certkernel plugin protocol v1 (protocol/PROTOCOL.md).
 * Kept in one module so the numbers a reviewer checks against the spec live
 * in one place.
 */

/** Value of CERTKERNEL_PLUGIN_COOKIE: proves the kernel started us (spec §2). */
const COOKIE = '7f3b2a9c-certkernel-plugin';
const COOKIE_ENV = 'CERTKERNEL_PLUGIN_COOKIE';
const VERSIONS_ENV = 'CERTKERNEL_PROTOCOL_VERSIONS';
const NAME_ENV = 'CERTKERNEL_PLUGIN_NAME';

/** Protocol versions this SDK speaks, best first. */
const SUPPORTED_VERSIONS = Object.freeze([1]);

/** Largest encoded message either side may send (spec §3.1 rule 2). */
const MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
const MAX_ID = 0xffffffff;

const REQUEST = 0;
const RESPONSE = 1;
const NOTIFICATION = 2;

/** Exit statuses fixed by the spec. */
const EXIT_OK = 0;
const EXIT_NO_COOKIE = 2;
const EXIT_VIOLATION = 3;

module.exports = {
  COOKIE,
  COOKIE_ENV,
  VERSIONS_ENV,
  NAME_ENV,
  SUPPORTED_VERSIONS,
  MAX_MESSAGE_SIZE,
  MAX_ID,
  REQUEST,
  RESPONSE,
  NOTIFICATION,
  EXIT_OK,
  EXIT_NO_COOKIE,
  EXIT_VIOLATION,
};
