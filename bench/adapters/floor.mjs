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

export async function stop() { agent.destroy(); }
