// matrix-js-sdk through its public API: createClient, sendTextMessage, whoami, and
// RoomEvent.Timeline ("Room.timeline") events during startClient().
// Node 20: node20-shims.cjs polyfills Promise.withResolvers (used at run time by the SDK
// and p-retry 8). Its crypto is WebAssembly and only loaded by initRustCrypto(), which is
// not called: encryption is off, nothing to stub.
// Logging: the SDK's loglevel loggers drop trace/debug/info/log (warn and error stay), as
// a production app would configure them; otherwise every request and sync logs to stdout.
import { createRequire } from 'node:module';
import { BENCH_DIR } from '../lib/clients.mjs';

const require = createRequire(import.meta.url);
let client;
let roomId;
let sdk;

export async function available() {
  try { require.resolve('matrix-js-sdk/package.json'); return { ok: true }; } catch (e) { return { ok: false, reason: `matrix-js-sdk not installed in bench/node_modules (${e.message})` }; }
}
export function importArgs() {
  return { args: ['-r', './adapters/node20-shims.cjs', '--input-type=module', '-e', "await import('matrix-js-sdk')"], cwd: BENCH_DIR };
}
export function footprintSpec() {
  return { kind: 'registry', spec: `matrix-js-sdk@${require('matrix-js-sdk/package.json').version}` };
}
export const syncMode = 'startClient(), RoomEvent.Timeline emitter';

function quietLogs() {
  const loglevel = require('loglevel');
  const QUIET = new Set(['trace', 'debug', 'info', 'log']);
  const base = loglevel.methodFactory;
  const factory = function quietFactory(methodName, level, name) {
    return QUIET.has(methodName) ? () => {} : base.call(this, methodName, level, name);
  };
  loglevel.methodFactory = factory;
  loglevel.rebuild();
  for (const l of Object.values(loglevel.getLoggers())) {
    l.methodFactory = factory;
    l.rebuild();
  }
}

export async function setup(ctx) {
  require('./node20-shims.cjs');
  sdk = await import('matrix-js-sdk');
  quietLogs();
  client = sdk.createClient({
    baseUrl: ctx.baseUrl,
    accessToken: ctx.accessToken,
    userId: ctx.userId,
    deviceId: ctx.deviceId,
  });
  roomId = ctx.roomId;
}

export async function send(i) { return (await client.sendTextMessage(roomId, `hello ${i}`)).event_id; }

export async function whoami() { return (await client.whoami()).user_id; }

export async function sync(onEvent) {
  client.on(sdk.RoomEvent.Timeline, (event, room) => onEvent(room ? room.roomId : event.getRoomId(), event.event));
  await client.startClient({ initialSyncLimit: 200 });
}

export async function stop() { client.stopClient(); }
