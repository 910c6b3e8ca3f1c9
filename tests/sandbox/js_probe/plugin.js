'use strict';
// A Node plugin for the sandbox test: reports the SDK's stdout protection
// mode and, in prepare, starts a child that inherits stdout and prints.
const sdk = require(process.env.JS_PROBE_SDK);
const { spawnSync } = require('node:child_process');

class Probe extends sdk.Authenticator {
  name = 'js-probe';
  version = '1.0.0';
  challengeTypes = ['http-01'];

  async prepare() {
    spawnSync('/bin/echo', ['a child writing to an inherited stdout'], { stdio: 'inherit' });
  }

  async moreInfo() {
    return `${sdk.protection().mode} uid=${process.getuid()}`;
  }

  async getChallPref() { return ['http-01']; }
  async perform() {}
  async cleanup() {}
}

sdk.serve(Probe);
