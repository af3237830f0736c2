// Raw axios, two ways:
//  - variant "default": axios.create({ baseURL, headers }) and nothing else, as a thin
//    wrapper would start out (Node 20's global agent already keeps connections alive);
//  - variant "tuned": a dedicated keep-alive http.Agent, maxRedirects 0 (skips the
//    follow-redirects wrapper), decompress false and `Accept-Encoding: identity` (no
//    compression asked for, none to undo): the knobs that matter for an axios-based SDK.
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { BENCH_DIR } from '../lib/clients.mjs';

const require = createRequire(import.meta.url);
let api;
let sendPrefix;
let txnPrefix;
let agents = [];

export async function available() { return { ok: true }; }
export function importArgs() { return { args: ['-e', "require('axios')"], cwd: BENCH_DIR }; }
export function footprintSpec() {
  return { kind: 'registry', spec: `axios@${require('axios/package.json').version}` };
}
export const syncMode = 'one GET /sync, iterate rooms.join[*].timeline.events';

export async function setup({ baseUrl, accessToken, roomId, variant }) {
  const axios = require('axios');
  const config = { baseURL: baseUrl, headers: { Authorization: `Bearer ${accessToken}` } };
  if (variant === 'tuned') {
    const httpAgent = new http.Agent({ keepAlive: true });
    const httpsAgent = new https.Agent({ keepAlive: true });
    agents = [httpAgent, httpsAgent];
    Object.assign(config, { httpAgent, httpsAgent, maxRedirects: 0, decompress: false });
    config.headers['Accept-Encoding'] = 'identity';
  }
  api = axios.create(config);
  sendPrefix = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/`;
  txnPrefix = `a${process.pid}.${Date.now()}.`;
}

export async function send(i) {
  const res = await api.put(sendPrefix + txnPrefix + i, { msgtype: 'm.text', body: `hello ${i}` });
  return res.data.event_id;
}

export async function whoami() {
  return (await api.get('/_matrix/client/v3/account/whoami')).data.user_id;
}

export async function sync(onEvent) {
  const { data: body } = await api.get('/_matrix/client/v3/sync', { params: { timeout: 0 } });
  const join = body.rooms && body.rooms.join;
  for (const roomId in join) {
    const events = join[roomId].timeline && join[roomId].timeline.events;
    if (!events) continue;
    for (let k = 0; k < events.length; k++) onEvent(roomId, events[k]);
  }
}

export async function stop() { for (const a of agents) a.destroy(); }
