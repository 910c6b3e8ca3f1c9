'use strict';
/**
 * certkernel plugin SDK for Node.js.
 *
 * Require it before anything else in a plugin's entry file: when the kernel
 * started the process (the cookie is set), requiring the SDK protects the
 * protocol channel at once, before any other module can write to stdout.
 */
const constants = require('./constants');
const channel = require('./channel');

if (process.env[constants.COOKIE_ENV] === constants.COOKIE) channel.protect();

const errors = require('./errors');
const plugin = require('./plugin');
const { serve, PluginServer, negotiate, startedByKernel } = require('./serve');
const { Endpoint, currentCall } = require('./endpoint');
const { Kernel } = require('./kernel');
const codec = require('./codec');
const messages = require('./messages');

module.exports = {
  serve,
  ...plugin,
  ...errors,
  Kernel,
  Endpoint,
  PluginServer,
  negotiate,
  startedByKernel,
  currentCall,
  protect: channel.protect,
  protection: channel.protection,
  StrictDecoder: codec.StrictDecoder,
  ProtocolViolation: codec.ProtocolViolation,
  encode: codec.encode,
  decodeOne: codec.decodeOne,
  toMessage: messages.toMessage,
  constants,
};
