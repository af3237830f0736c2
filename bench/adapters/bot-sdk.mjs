// matrix-bot-sdk through its public API: MatrixClient with a MemoryStorageProvider,
// sendText, getWhoAmI, and the client's "room.event" emitter during start().
// Node 20: node20-shims.cjs stubs its native crypto module (never used: no crypto store
// is given, so encryption is off) and polyfills Promise.withResolvers.
// Logging: LogService at WARN, as a production bot would run.
import { createRequire } from 'node:module';
import { BENCH_DIR } from '../lib/clients.mjs';

const require = createRequire(import.meta.url);
let client;
let roomId;

export async function available() {
  try { require.resolve('matrix-bot-sdk'); return { ok: true }; } catch (e) { return { ok: false, reason: `matrix-bot-sdk not installed in bench/node_modules (${e.message})` }; }
}
export function importArgs() {
  return { args: ['-r', './adapters/node20-shims.cjs', '-e', "require('matrix-bot-sdk')"], cwd: BENCH_DIR };
}
export function footprintSpec() {
  return { kind: 'registry', spec: `matrix-bot-sdk@${require('matrix-bot-sdk/package.json').version}`, note: 'installed with --ignore-scripts: the native crypto binary its postinstall downloads is not counted' };
}
export const syncMode = 'MatrixClient.start(), "room.event" emitter';

export async function setup(ctx) {
  require('./node20-shims.cjs');
  const sdk = require('matrix-bot-sdk');
  sdk.LogService.setLevel(sdk.LogLevel.WARN);
  client = new sdk.MatrixClient(ctx.baseUrl, ctx.accessToken, new sdk.MemoryStorageProvider());
  roomId = ctx.roomId;
}

export async function send(i) { return client.sendText(roomId, `hello ${i}`); }

export async function whoami() { return (await client.getWhoAmI()).user_id; }

export async function sync(onEvent) {
  client.on('room.event', onEvent);
  await client.start();
}

export async function stop() { client.stop(); }
