// The floor: node:http with a keep-alive agent and hand-written JSON. No retries, no
// validation, no event emitter: the least any client can do to drive the same wire.
import http from 'node:http';
import { BENCH_DIR } from '../lib/clients.mjs';

let agent;
let host;
let port;
let auth;
let sendPrefix;
let txnPrefix;

export async function available() { return { ok: true }; }
export function importArgs() { return { args: ['-e', "require('node:http')"], cwd: BENCH_DIR }; }
export function footprintSpec() { return { kind: 'builtin' }; }
export const syncMode = 'one GET /sync, iterate rooms.join[*].timeline.events';
export const syncLoopMode = 'GET /sync with since, in a loop; a limited timeline paged back with /messages';

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = { Authorization: auth, Accept: 'application/json' };
    let payload;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const req = http.request({ host, port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'));
        } catch (e) { reject(e); return; }
        if (res.statusCode >= 300) reject(Object.assign(new Error(`${res.statusCode} ${json.errcode}`), { body: json }));
        else resolve(json);
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function setup({ baseUrl, accessToken, roomId }) {
  const u = new URL(baseUrl);
  host = u.hostname;
  port = Number(u.port);
  auth = `Bearer ${accessToken}`;
  agent = new http.Agent({ keepAlive: true });
  sendPrefix = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/`;
  txnPrefix = `f${process.pid}.${Date.now()}.`;
}

export async function send(i) {
  const res = await request('PUT', sendPrefix + txnPrefix + i, { msgtype: 'm.text', body: `hello ${i}` });
  return res.event_id;
}

export async function whoami() {
  return (await request('GET', '/_matrix/client/v3/account/whoami')).user_id;
}

export async function sync(onEvent) {
  const body = await request('GET', '/_matrix/client/v3/sync?timeout=0');
  const join = body.rooms && body.rooms.join;
  for (const roomId in join) {
    const events = join[roomId].timeline && join[roomId].timeline.events;
    if (!events) continue;
    for (let k = 0; k < events.length; k++) onEvent(roomId, events[k]);
  }
}

// The sync-scale scenarios: the least a client must do to run a sync loop without losing
// events: GET /sync with the previous next_batch, and for a limited timeline page
// /messages back to the last event it handed over in that room, then hand over the
// missing events (oldest first) before the timeline's own.
let looping = false;
export async function syncLoop(onEvent) {
  looping = true;
  const last = new Map();
  let since;
  while (looping) {
    const body = await request('GET', `/_matrix/client/v3/sync?timeout=30000${since ? `&since=${encodeURIComponent(since)}` : ''}`).catch((e) => {
      if (looping) throw e;
    });
    if (!looping) return;
    const join = body.rooms && body.rooms.join;
    for (const roomId in join) {
      const timeline = join[roomId].timeline;
      const events = timeline && timeline.events;
      if (!events || !events.length) continue;
      const anchor = last.get(roomId);
      if (timeline.limited && since && anchor) {
        const missing = [];
        let from = timeline.prev_batch;
        for (;;) {
          const page = await request('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100&from=${encodeURIComponent(from)}`);
          let found = false;
          for (const ev of page.chunk) {
            if (ev.event_id === anchor) { found = true; break; }
            missing.push(ev);
          }
          if (found || !page.end) break;
          from = page.end;
        }
        for (let k = missing.length - 1; k >= 0; k--) onEvent(roomId, missing[k]);
      }
      for (let k = 0; k < events.length; k++) onEvent(roomId, events[k]);
      last.set(roomId, events[events.length - 1].event_id);
    }
    since = body.next_batch;
  }
}

export async function stop() {
  looping = false;
  agent.destroy();
}
