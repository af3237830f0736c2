'use strict';
// Makes the peers' latest releases run on Node 20 (both declare engines.node >= 22).
// Loaded by the bot-sdk and js-sdk adapters before they load their SDK, and with
// `node -r` for the cold-import measurement of those two, so the same code runs in
// both places. It does two things, nothing else:
//
// 1. Polyfills Promise.withResolvers (ES2024, Node 22), which matrix-js-sdk (and its
//    dependency p-retry 8) call at run time.
// 2. Stubs the native end-to-end-encryption module that matrix-bot-sdk 0.8 requires at
//    load time (@matrix-org/matrix-sdk-crypto-nodejs, plus the older
//    @turt2live/matrix-sdk-crypto-nodejs). Its postinstall downloads a prebuilt binary
//    from outside the npm registry, which this machine cannot reach, so bench/ installs
//    with ignore-scripts and the module would throw on require. The benchmarks never turn
//    encryption on; the stub (native-crypto-stub.cjs) throws if anything constructs a
//    crypto object, so a scenario that silently used crypto would fail loudly.
//    matrix-js-sdk's crypto is WebAssembly (@matrix-org/matrix-sdk-crypto-wasm), loaded
//    only by initRustCrypto(), which the benchmarks do not call: nothing to stub there.

if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => { resolve = res; reject = rej; });
      return { promise, resolve, reject };
    },
  });
}

const Module = require('node:module');
const path = require('node:path');
const STUBBED = new Set(['@matrix-org/matrix-sdk-crypto-nodejs', '@turt2live/matrix-sdk-crypto-nodejs']);
const STUB_PATH = path.join(__dirname, 'native-crypto-stub.cjs');
if (!Module.__benchCryptoStub) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function benchResolve(request, ...rest) {
    if (STUBBED.has(request)) return STUB_PATH;
    return resolve.call(this, request, ...rest);
  };
  Module.__benchCryptoStub = true;
}
