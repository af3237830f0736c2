'use strict';
// Stand-in for matrix-bot-sdk's native crypto module (see node20-shims.cjs). Every export
// is a class whose constructor and static methods throw: loading works, using crypto fails.
const cache = new Map();
function stubClass(name) {
  let C = cache.get(name);
  if (!C) {
    const fail = () => { throw new Error(`bench: native crypto is stubbed (${name}); encryption is not benchmarked`); };
    C = new Proxy(class {}, {
      construct: fail,
      apply: fail,
      get(target, prop) {
        if (prop === 'prototype' || prop === 'name' || typeof prop === 'symbol') return target[prop];
        return fail;
      },
    });
    cache.set(name, C);
  }
  return C;
}
module.exports = new Proxy({}, {
  get(_target, prop) {
    if (prop === '__esModule') return true;
    if (typeof prop === 'symbol' || prop === 'then') return undefined;
    return stubClass(prop);
  },
});
