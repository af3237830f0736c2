// matrix-session (this SDK) through its built CommonJS entry, dist/cjs/index.js, with its
// defaults (every safety feature on). Until dist/ exists, available() says so and the
// report prints "not built yet" instead of figures.
//
// sync: if the session has a sync loop (sync.start), events are taken from its
// 'room.event' emitter; otherwise sync.once() is called and the bench iterates the
// timeline events of the returned body itself (syncMode says which; the report shows it).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT_DIR } from '../lib/clients.mjs';

const require = createRequire(import.meta.url);
// BENCH_SESSION_ENTRY: another build of the SDK (A/B runs of bench/profile.mjs against a saved dist/).
const ENTRY = process.env.BENCH_SESSION_ENTRY ? path.resolve(process.env.BENCH_SESSION_ENTRY) : path.join(ROOT_DIR, 'dist', 'cjs', 'index.js');
let s;
let roomId;
export let syncMode = 'unknown';

export async function available() {
  if (!existsSync(ENTRY)) return { ok: false, reason: 'not built yet: dist/cjs/index.js is missing (npm run build)' };
  try {
    const mod = require(ENTRY);
    if (typeof mod.MatrixSession !== 'function') return { ok: false, reason: 'not built yet: dist/cjs/index.js does not export MatrixSession' };
  } catch (e) {
    return { ok: false, reason: `not built yet: dist/cjs/index.js fails to load (${String(e && e.message).split('\n')[0]})` };
  }
  return { ok: true };
}
export function importArgs() { return { args: ['-e', `require(${JSON.stringify(ENTRY)})`], cwd: ROOT_DIR }; }
export function footprintSpec() {
  if (!existsSync(ENTRY)) return { kind: 'skip', reason: 'not built yet' };
  return { kind: 'pack', dir: ROOT_DIR };
}

export async function setup(ctx) {
  const { MatrixSession } = require(ENTRY);
  s = new MatrixSession({ baseUrl: ctx.baseUrl, accessToken: ctx.accessToken, userId: ctx.userId, deviceId: ctx.deviceId });
  roomId = ctx.roomId;
  syncMode = s.sync && typeof s.sync.start === 'function' ? 'loop: sync.start(), "room.event" emitter' : 'once';
}

export async function send(i) {
  const res = await s.rooms.sendText(roomId, `hello ${i}`);
  return typeof res === 'string' ? res : res && (res.event_id ?? res.eventId);
}

export async function whoami() {
  const res = await s.account.whoami();
  return res && (res.user_id ?? res.userId);
}

export async function sync(onEvent) {
  if (syncMode.startsWith('loop')) {
    s.on('room.event', onEvent);
    await s.sync.start({ timeout: 0 });
    return;
  }
  const body = await s.sync.once({ timeout: 0 });
  const join = body && body.rooms && body.rooms.join;
  for (const rid in join) {
    const events = join[rid].timeline && join[rid].timeline.events;
    if (!events) continue;
    for (let k = 0; k < events.length; k++) onEvent(rid, events[k]);
  }
}

/** The sync-scale scenarios: the loop as an application runs it (default options, memory store). */
export async function syncLoop(onEvent) {
  s.on('room.event', onEvent);
  await s.sync.start({ timeout: 30_000 });
}
export const syncLoopMode = 'loop: sync.start(), "room.event" emitter (gaps filled by the loop)';

export async function stop() {
  if (s && s.sync && typeof s.sync.stop === 'function' && s.sync.running) await s.sync.stop();
  if (s && typeof s.close === 'function') await s.close();
}
