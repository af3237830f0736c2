#!/usr/bin/env node
// Stub Matrix homeserver for the benchmarks: node:http on 127.0.0.1, answering the
// endpoints the scenarios (and each peer's start-up) use with realistic, Synapse-like
// bodies. Run as its own process (bench/run.mjs pins it to its own core with taskset);
// it prints one JSON line `{"ready":true,"port":N,...}` on stdout once it listens.
//
//   node bench/stub-server.mjs [--port 0] [--rooms 50] [--events 200]
//                              [--large-rooms 500] [--large-events 20] [--hold-ms 5000]
//
// Sync variants: the initial /sync body is chosen by the access token. A token that
// contains `_<R>x<E>` (e.g. `syt_bench_500x20`) gets R joined rooms x E timeline events;
// any other token gets the default (--rooms x --events). Bodies are generated once,
// deterministically, and cached as Buffers. Every timeline event carries its global
// sequence number in `content["bench.seq"]` (0 .. R*E-1) so the client side can check
// that each one arrived exactly once. A /sync with `since` is an empty incremental one,
// held for min(timeout, --hold-ms) like a long poll.
//
// Sync at scale (the sync-scale scenarios; the mode is chosen by the access token too):
// - `syt_bench_soak_<T>_<B>_<R>`: an empty initial /sync, then incremental ones with B new
//   timeline events each, spread over R rooms, until T events were served (bench.seq 0..T-1
//   in order); after that the long poll is held for --hold-ms whatever its timeout.
// - `syt_bench_gap_<N>`: an initial /sync with one room and one event (the anchor), then one
//   incremental /sync whose timeline holds the last 10 of N new events, `limited`, with a
//   prev_batch; GET /rooms/{roomId}/messages pages back through the other N-10, as Synapse
//   does (newest first, `end` until the anchor is reached).
//
// Bench control endpoints (not Matrix): GET /_bench/stats, POST /_bench/reset,
// GET /_bench/variant?rooms=R&events=E (sizes of a variant, generating it if needed).

import http from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    rooms: { type: 'string', default: '50' },
    events: { type: 'string', default: '200' },
    'large-rooms': { type: 'string', default: '500' },
    'large-events': { type: 'string', default: '20' },
    'hold-ms': { type: 'string', default: '5000' },
    members: { type: 'string', default: '8' },
  },
});

const SERVER = 'localhost';
const BENCH_USER = `@bench:${SERVER}`;
const BENCH_DEVICE = 'BENCH';
const DEFAULT_ROOMS = Number(opts.rooms);
const DEFAULT_EVENTS = Number(opts.events);
const HOLD_MS = Number(opts['hold-ms']);
const MEMBERS = Number(opts.members);
const BASE_TS = 1_700_000_000_000;

// ---------------------------------------------------------------------------
// Deterministic ids and bodies

function b64id(seed, len = 43) {
  return crypto.createHash('sha256').update(seed).digest('base64url').slice(0, len);
}
function roomIdFor(r) {
  // Synapse-style opaque room ids: !<18 letters>:server
  const letters = b64id(`room-${r}`).replace(/[^A-Za-z]/g, '') + 'abcdefghijklmnopqr';
  return `!${letters.slice(0, 18)}:${SERVER}`;
}
const userIdFor = (u) => `@user${u}:${SERVER}`;

const LOREM = ('Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ' +
  'incididunt ut labore et dolore magna aliqua Ut enim ad minim veniam quis nostrud exercitation ' +
  'ullamco laboris nisi ut aliquip ex ea commodo consequat').split(' ');
function sentence(seed, words) {
  const out = [];
  for (let w = 0; w < words; w++) out.push(LOREM[(seed * 7 + w * 13) % LOREM.length]);
  return out.join(' ');
}

function stateEvent(type, stateKey, content, sender, ts, seed) {
  return {
    type,
    state_key: stateKey,
    sender,
    content,
    origin_server_ts: ts,
    unsigned: { age: 86_400_000 },
    event_id: `$${b64id(seed)}`,
  };
}

function roomState(r, roomId) {
  const creator = userIdFor(r % 100);
  const ts = BASE_TS + r * 1000;
  const users = { [creator]: 100, [BENCH_USER]: 50 };
  const ev = [
    stateEvent('m.room.create', '', { room_version: '10', creator }, creator, ts, `${roomId}-create`),
    stateEvent('m.room.power_levels', '', {
      users, users_default: 0, events: {
        'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100,
        'm.room.canonical_alias': 50, 'm.room.avatar': 50, 'm.room.tombstone': 100,
        'm.room.server_acl': 100, 'm.room.encryption': 100,
      },
      events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 0,
      historical: 100, notifications: { room: 50 },
    }, creator, ts + 1, `${roomId}-pl`),
    stateEvent('m.room.join_rules', '', { join_rule: 'invite' }, creator, ts + 2, `${roomId}-jr`),
    stateEvent('m.room.history_visibility', '', { history_visibility: 'shared' }, creator, ts + 3, `${roomId}-hv`),
    stateEvent('m.room.guest_access', '', { guest_access: 'can_join' }, creator, ts + 4, `${roomId}-ga`),
    stateEvent('m.room.name', '', { name: `Bench room ${r}` }, creator, ts + 5, `${roomId}-name`),
    stateEvent('m.room.topic', '', { topic: `Topic of bench room ${r}: ${sentence(r, 8)}` }, creator, ts + 6, `${roomId}-topic`),
    stateEvent('m.room.member', BENCH_USER, { membership: 'join', displayname: 'bench' }, BENCH_USER, ts + 7, `${roomId}-m-bench`),
  ];
  for (let m = 0; m < MEMBERS; m++) {
    const u = userIdFor((r + m) % 100);
    ev.push(stateEvent('m.room.member', u, { membership: 'join', displayname: `User ${(r + m) % 100}`, avatar_url: `mxc://${SERVER}/${b64id(u, 24)}` }, u, ts + 8 + m, `${roomId}-m-${m}`));
  }
  return ev;
}

function timelineEvent(r, i, seq, roomId) {
  const sender = userIdFor((r + (i % MEMBERS)) % 100);
  const ts = BASE_TS + 10_000_000 + seq * 1000;
  const event_id = `$${b64id(`${roomId}-t-${i}`)}`;
  if (i % 50 === 25) {
    // A membership change in the timeline, as real rooms have.
    const u = userIdFor(100 + ((r * 7 + i) % 900));
    return {
      type: 'm.room.member', state_key: u, sender: u,
      content: { membership: 'join', displayname: `Newcomer ${i}`, 'bench.seq': seq },
      origin_server_ts: ts, unsigned: { age: 5000 + i }, event_id,
    };
  }
  const body = `#${i} ${sentence(seq, 2 + (seq % 7))}`;
  const content = { msgtype: i % 20 === 7 ? 'm.notice' : 'm.text', body, 'bench.seq': seq };
  if (i % 10 === 1) {
    content.format = 'org.matrix.custom.html';
    content.formatted_body = `<p><b>${body}</b></p>`;
  }
  return {
    type: 'm.room.message', sender, content,
    origin_server_ts: ts, unsigned: { age: 5000 + i }, event_id,
  };
}

function initialSync(R, E) {
  const join = {};
  for (let r = 0; r < R; r++) {
    const roomId = roomIdFor(r);
    const events = [];
    for (let i = 0; i < E; i++) events.push(timelineEvent(r, i, r * E + i, roomId));
    const last = events[events.length - 1];
    join[roomId] = {
      summary: {
        'm.heroes': [userIdFor(r % 100), userIdFor((r + 1) % 100), userIdFor((r + 2) % 100)],
        'm.joined_member_count': MEMBERS + 1,
        'm.invited_member_count': 0,
      },
      state: { events: roomState(r, roomId) },
      timeline: { events, limited: true, prev_batch: `t${r}-${E}_0_0_0_0_0_0_0_0` },
      ephemeral: {
        events: [
          { type: 'm.typing', content: { user_ids: [] } },
          last ? { type: 'm.receipt', content: { [last.event_id]: { 'm.read': { [userIdFor(r % 100)]: { ts: last.origin_server_ts + 10 } } } } } : null,
        ].filter(Boolean),
      },
      account_data: { events: last ? [{ type: 'm.fully_read', content: { event_id: last.event_id } }] : [] },
      unread_notifications: { highlight_count: 0, notification_count: r % 5 },
      unread_thread_notifications: {},
    };
  }
  return {
    next_batch: `s${R}x${E}_1_0_1_1_1_1_1_1_1`,
    account_data: { events: [{ type: 'm.push_rules', content: pushRules() }] },
    presence: { events: [] },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: { signed_curve25519: 50 },
    'org.matrix.msc2732.device_unused_fallback_key_types': ['signed_curve25519'],
    device_unused_fallback_key_types: ['signed_curve25519'],
    rooms: { join, invite: {}, leave: {}, knock: {} },
  };
}

function pushRules() {
  const rule = (rule_id, conditions, actions, extra = {}) => ({ rule_id, default: true, enabled: true, conditions, actions, ...extra });
  const notify = ['notify'];
  const sound = (s) => ['notify', { set_tweak: 'sound', value: s }];
  return {
    global: {
      override: [
        rule('.m.rule.master', [], [], { enabled: false }),
        rule('.m.rule.suppress_notices', [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }], []),
        rule('.m.rule.invite_for_me', [{ kind: 'event_match', key: 'type', pattern: 'm.room.member' }, { kind: 'event_match', key: 'content.membership', pattern: 'invite' }, { kind: 'event_match', key: 'state_key', pattern: BENCH_USER }], sound('default')),
        rule('.m.rule.member_event', [{ kind: 'event_match', key: 'type', pattern: 'm.room.member' }], []),
        rule('.m.rule.is_user_mention', [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: BENCH_USER }], [...sound('default'), { set_tweak: 'highlight' }]),
        rule('.m.rule.is_room_mention', [{ kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true }, { kind: 'sender_notification_permission', key: 'room' }], ['notify', { set_tweak: 'highlight' }]),
        rule('.m.rule.tombstone', [{ kind: 'event_match', key: 'type', pattern: 'm.room.tombstone' }, { kind: 'event_match', key: 'state_key', pattern: '' }], ['notify', { set_tweak: 'highlight' }]),
        rule('.m.rule.reaction', [{ kind: 'event_match', key: 'type', pattern: 'm.reaction' }], []),
        rule('.m.rule.room.server_acl', [{ kind: 'event_match', key: 'type', pattern: 'm.room.server_acl' }, { kind: 'event_match', key: 'state_key', pattern: '' }], []),
      ],
      content: [
        rule('.m.rule.contains_user_name', [], [...sound('default'), { set_tweak: 'highlight' }], { pattern: 'bench' }),
      ],
      room: [],
      sender: [],
      underride: [
        rule('.m.rule.call', [{ kind: 'event_match', key: 'type', pattern: 'm.call.invite' }], sound('ring')),
        rule('.m.rule.room_one_to_one', [{ kind: 'room_member_count', is: '2' }, { kind: 'event_match', key: 'type', pattern: 'm.room.message' }], sound('default')),
        rule('.m.rule.message', [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }], notify),
        rule('.m.rule.encrypted', [{ kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' }], notify),
      ],
    },
  };
}

const variants = new Map();
function variant(R, E) {
  const key = `${R}x${E}`;
  let v = variants.get(key);
  if (!v) {
    const body = Buffer.from(JSON.stringify(initialSync(R, E)));
    v = { key, rooms: R, events: E, timelineEvents: R * E, bytes: body.length, body, roomIds: null };
    v.joinedRooms = Buffer.from(JSON.stringify({ joined_rooms: Array.from({ length: R }, (_, r) => roomIdFor(r)) }));
    variants.set(key, v);
  }
  return v;
}

function emptyIncremental(since) {
  const n = (Number(String(since).split('_')[1]) || 1) + 1;
  return Buffer.from(JSON.stringify({
    next_batch: `${String(since).split('_')[0]}_${n}_0_1_1_1_1_1_1_1`,
    account_data: { events: [] }, presence: { events: [] }, to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: { signed_curve25519: 50 },
    device_unused_fallback_key_types: ['signed_curve25519'],
    rooms: { join: {}, invite: {}, leave: {}, knock: {} },
  }));
}

// ---------------------------------------------------------------------------
// Sync at scale: soak batches and a gap to fill

const SCALE_ROOM = roomIdFor(0);
const soakRooms = new Map();
function soakRoomIds(R) {
  let ids = soakRooms.get(R);
  if (!ids) soakRooms.set(R, (ids = Array.from({ length: R }, (_, r) => roomIdFor(r))));
  return ids;
}

/** One scale event: a short m.text with its sequence number (ids and bodies from the number alone). */
function scaleEvent(seq, prefix) {
  return {
    type: 'm.room.message', sender: userIdFor(seq % 100),
    content: { msgtype: 'm.text', body: `#${seq} ${LOREM[seq % LOREM.length]} ${LOREM[(seq * 7) % LOREM.length]}`, 'bench.seq': seq },
    origin_server_ts: BASE_TS + seq, unsigned: { age: 1000 }, event_id: `$${prefix}${seq}`,
  };
}

function soakBatch(k, T, B, R) {
  const from = k * B;
  const to = Math.min(T, from + B);
  const ids = soakRoomIds(R);
  const join = {};
  const perRoom = Math.ceil((to - from) / R);
  for (let seq = from; seq < to; seq++) {
    const roomId = ids[Math.floor((seq - from) / perRoom) % R];
    (join[roomId] ??= { timeline: { events: [], limited: false, prev_batch: `soak_p${seq}` } }).timeline.events.push(scaleEvent(seq, 'soak'));
  }
  return Buffer.from(JSON.stringify({ next_batch: `soak_${k + 1}`, rooms: { join } }));
}

const GAP_ANCHOR = '$gapanchor';
function gapSync(since, N) {
  if (!since) {
    const anchor = { ...scaleEvent(-1, 'gap'), event_id: GAP_ANCHOR, content: { msgtype: 'm.text', body: 'anchor' } };
    return { body: json({ next_batch: 'gap_1', rooms: { join: { [SCALE_ROOM]: { timeline: { events: [anchor] } } } } }) };
  }
  if (since !== 'gap_1') return null; // held
  const events = [];
  for (let seq = N - 10; seq < N; seq++) events.push(scaleEvent(seq, 'gap'));
  return { body: json({ next_batch: 'gap_2', rooms: { join: { [SCALE_ROOM]: { timeline: { events, limited: true, prev_batch: `gap_b${N - 10}` } } } } }) };
}

/** /messages backwards from `gap_b<k>`: events k-1 … down, then the anchor and no `end`. */
function gapMessages(query) {
  const before = Number(String(query.get('from') || '').replace('gap_b', ''));
  const limit = Math.min(Number(query.get('limit') || 10), 1000);
  const chunk = [];
  let k = before - 1;
  for (; k >= 0 && chunk.length < limit; k--) chunk.push(scaleEvent(k, 'gap'));
  if (k < 0 && chunk.length < limit) {
    chunk.push({ ...scaleEvent(-1, 'gap'), event_id: GAP_ANCHOR, content: { msgtype: 'm.text', body: 'anchor' } });
    return json({ start: `gap_b${before}`, chunk });
  }
  return json({ start: `gap_b${before}`, end: `gap_b${k + 1}`, chunk });
}

const json = (o) => Buffer.from(JSON.stringify(o));
const VERSIONS = json({
  versions: ['r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1',
    'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12'],
  unstable_features: {
    'org.matrix.label_based_filtering': true, 'org.matrix.e2e_cross_signing': true,
    'org.matrix.msc2432': true, 'uk.half-shot.msc2666.query_mutual_rooms': false,
    'io.element.e2ee_forced.public': false, 'io.element.e2ee_forced.private': false,
    'io.element.e2ee_forced.trusted_private': false, 'org.matrix.msc3026.busy_presence': false,
    'org.matrix.msc2285.stable': true, 'org.matrix.msc3827.stable': true,
    'org.matrix.msc3440.stable': true, 'org.matrix.msc3771': true, 'org.matrix.msc3773': false,
    'fi.mau.msc2815': false, 'org.matrix.msc3882': false, 'org.matrix.msc3881': false,
    'org.matrix.msc3874': false, 'org.matrix.msc3886': false, 'org.matrix.msc3912': false,
    'org.matrix.msc3981': true, 'org.matrix.msc3391': false, 'org.matrix.msc4069': false,
    'org.matrix.msc4028': false, 'org.matrix.msc4108': false, 'org.matrix.msc4140': false,
    'org.matrix.simplified_msc3575': false, 'org.matrix.msc4151': false,
    'org.matrix.msc4155': false, 'org.matrix.msc4306': false,
  },
});
const WHOAMI = json({ user_id: BENCH_USER, device_id: BENCH_DEVICE, is_guest: false });
const CAPABILITIES = json({
  capabilities: {
    'm.room_versions': {
      default: '10',
      available: { 1: 'stable', 2: 'stable', 3: 'stable', 4: 'stable', 5: 'stable', 6: 'stable', 7: 'stable', 8: 'stable', 9: 'stable', 10: 'stable', 11: 'stable' },
    },
    'm.change_password': { enabled: true },
    'm.set_displayname': { enabled: true },
    'm.set_avatar_url': { enabled: true },
    'm.3pid_changes': { enabled: true },
    'm.get_login_token': { enabled: false },
  },
});
const PUSHRULES = json(pushRules());
const FILTER_ID = json({ filter_id: '0' });
const FILTER = json({ room: { timeline: { limit: 20 }, state: { lazy_load_members: true } } });
const EMPTY = json({});
const TURN = json({});
const PROFILE = json({ displayname: 'bench', avatar_url: `mxc://${SERVER}/benchavatar` });
const ERR = (status, errcode, error) => ({ status, body: json({ errcode, error }) });
const NOT_FOUND = ERR(404, 'M_NOT_FOUND', 'Account data not found');
const UNRECOGNIZED = ERR(404, 'M_UNRECOGNIZED', 'Unrecognized request');
const MISSING_TOKEN = ERR(401, 'M_MISSING_TOKEN', 'Missing access token');
const BAD_JSON = ERR(400, 'M_NOT_JSON', 'Content not JSON.');

// ---------------------------------------------------------------------------
// Stats

let stats = newStats();
function newStats() {
  return { requests: 0, routes: Object.create(null), unknown: Object.create(null), duplicateTxn: 0, bytesOut: 0 };
}
let txnSeen = new Set();
const count = (route) => { stats.routes[route] = (stats.routes[route] || 0) + 1; };

// ---------------------------------------------------------------------------
// HTTP

const COMMON_HEADERS = {
  'Content-Type': 'application/json',
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'Server': 'bench-stub',
};

function reply(res, status, body) {
  stats.bytesOut += body.length;
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Length': body.length });
  res.end(body);
}

function tokenOf(req, query) {
  const h = req.headers.authorization;
  if (h && h.startsWith('Bearer ')) return h.slice(7);
  return query.get('access_token');
}

function variantForToken(token) {
  const m = /_(\d+)x(\d+)(?:_|$)/.exec(token || '');
  return m ? variant(Number(m[1]), Number(m[2])) : variant(DEFAULT_ROOMS, DEFAULT_EVENTS);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const V = '(?:v3|r0)';
const routes = [
  ['GET', /^\/_matrix\/client\/versions$/, 'versions', false, () => ({ body: VERSIONS })],
  ['GET', new RegExp(`^/_matrix/client/${V}/account/whoami$`), 'whoami', true, () => ({ body: WHOAMI })],
  ['PUT', new RegExp(`^/_matrix/client/${V}/rooms/([^/]+)/send/([^/]+)/([^/]+)$`), 'send', true, async (req, m) => {
    const raw = await readBody(req);
    try { JSON.parse(raw.toString('utf8')); } catch { return BAD_JSON; }
    const txnKey = `${m[1]}/${m[3]}`;
    if (txnSeen.has(txnKey)) stats.duplicateTxn++; else txnSeen.add(txnKey);
    return { body: Buffer.from(`{"event_id":"$${crypto.randomBytes(32).toString('base64url')}"}`) };
  }],
  ['GET', new RegExp(`^/_matrix/client/${V}/sync$`), 'sync', true, (req, m, query, token) => {
    const since = query.get('since');
    const soak = /_soak_(\d+)_(\d+)_(\d+)$/.exec(token || '');
    const gap = /_gap_(\d+)$/.exec(token || '');
    if (soak || gap) {
      count(since ? 'sync-incremental' : 'sync-initial');
      let out = null;
      if (gap) out = gapSync(since, Number(gap[1]));
      else {
        const [T, B, R] = soak.slice(1).map(Number);
        const k = since ? Number(since.replace('soak_', '')) : -1;
        if (k < 0) out = { body: json({ next_batch: 'soak_0', rooms: { join: {} } }) };
        else if (k * B < T) out = { body: soakBatch(k, T, B, R) };
      }
      if (out) return out;
      // Done: hold the long poll whatever its timeout, so no client spins on empty answers.
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve({ body: emptyIncremental(since || 's_1') }), HOLD_MS);
        req.socket.once('close', () => { clearTimeout(t); resolve(null); });
      });
    }
    if (!since) {
      count('sync-initial');
      return { body: variantForToken(token).body };
    }
    count('sync-incremental');
    const hold = Math.min(Number(query.get('timeout') || 0), HOLD_MS);
    const body = emptyIncremental(since);
    if (hold <= 0) return { body };
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve({ body }), hold);
      req.socket.once('close', () => { clearTimeout(t); resolve(null); });
    });
  }],
  ['GET', new RegExp(`^/_matrix/client/${V}/rooms/([^/]+)/messages$`), 'messages', true, (req, m, query) => ({ body: gapMessages(query) })],
  // Senders ask whether a room is encrypted before its first message: not here (404, as Synapse answers).
  ['GET', new RegExp(`^/_matrix/client/${V}/rooms/([^/]+)/state/m\\.room\\.encryption/?$`), 'state-encryption', true, () => ({ status: 404, body: json({ errcode: 'M_NOT_FOUND', error: 'Event not found.' }) })],
  ['GET', new RegExp(`^/_matrix/client/${V}/joined_rooms$`), 'joined_rooms', true, (req, m, q, token) => ({ body: variantForToken(token).joinedRooms })],
  ['POST', new RegExp(`^/_matrix/client/${V}/user/([^/]+)/filter$`), 'filter-create', true, async (req) => { await readBody(req); return { body: FILTER_ID }; }],
  ['GET', new RegExp(`^/_matrix/client/${V}/user/([^/]+)/filter/([^/]+)$`), 'filter-get', true, () => ({ body: FILTER })],
  // m.direct exists on any account that ever had a DM; other types are absent (404 like Synapse).
  ['GET', new RegExp(`^/_matrix/client/${V}/user/([^/]+)/account_data/([^/]+)$`), 'account_data-get', true, (req, m) => (m[2] === 'm.direct' ? { body: EMPTY } : NOT_FOUND)],
  ['PUT', new RegExp(`^/_matrix/client/${V}/user/([^/]+)/account_data/([^/]+)$`), 'account_data-put', true, async (req) => { await readBody(req); return { body: EMPTY }; }],
  ['GET', new RegExp(`^/_matrix/client/${V}/pushrules/?$`), 'pushrules', true, () => ({ body: PUSHRULES })],
  ['GET', new RegExp(`^/_matrix/client/${V}/capabilities$`), 'capabilities', true, () => ({ body: CAPABILITIES })],
  ['GET', new RegExp(`^/_matrix/client/${V}/voip/turnServer$`), 'turnServer', true, () => ({ body: TURN })],
  ['GET', new RegExp(`^/_matrix/client/${V}/profile/([^/]+)$`), 'profile', false, () => ({ body: PROFILE })],
  // matrix-js-sdk asks for MatrixRTC transports (MSC4143) at start-up; a server without the
  // MSC answers M_UNRECOGNIZED, as here.
  ['GET', /^\/_matrix\/client\/unstable\/org\.matrix\.msc4143\/rtc\/transports$/, 'rtc-transports', true, () => UNRECOGNIZED],
];

async function handle(req, res) {
  const url = req.url;
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  const query = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));

  if (path.startsWith('/_bench/')) return benchControl(req, res, path, query);
  stats.requests++;

  for (const [method, re, name, auth, fn] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    if (req.method !== method) continue;
    const token = tokenOf(req, query);
    if (auth && !token) { req.resume(); return reply(res, MISSING_TOKEN.status, MISSING_TOKEN.body); }
    if (name !== 'sync') count(name);
    const out = await fn(req, m, query, token);
    if (out === null) return; // client went away during a long poll
    return reply(res, out.status || 200, out.body);
  }
  if (req.method === 'OPTIONS') return reply(res, 200, EMPTY);
  const key = `${req.method} ${path.replace(/![^/:]+(:|%3A)[^/]+/gi, '{roomId}').replace(/@[^/]+/g, '{userId}')}`;
  stats.unknown[key] = (stats.unknown[key] || 0) + 1;
  req.resume();
  return reply(res, UNRECOGNIZED.status, UNRECOGNIZED.body);
}

function benchControl(req, res, path, query) {
  req.resume();
  if (path === '/_bench/stats') return reply(res, 200, json(stats));
  if (path === '/_bench/reset') { stats = newStats(); txnSeen = new Set(); return reply(res, 200, EMPTY); }
  if (path === '/_bench/variant') {
    const v = variant(Number(query.get('rooms') || DEFAULT_ROOMS), Number(query.get('events') || DEFAULT_EVENTS));
    return reply(res, 200, json({ key: v.key, rooms: v.rooms, events: v.events, timelineEvents: v.timelineEvents, bytes: v.bytes }));
  }
  return reply(res, 404, UNRECOGNIZED.body);
}

const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  handle(req, res).catch((err) => {
    try { reply(res, 500, json({ errcode: 'M_UNKNOWN', error: String(err && err.message) })); } catch { /* gone */ }
  });
});
server.keepAliveTimeout = 30_000;
server.headersTimeout = 35_000;

// Generate the default and large variants before announcing readiness.
const dflt = variant(DEFAULT_ROOMS, DEFAULT_EVENTS);
const large = variant(Number(opts['large-rooms']), Number(opts['large-events']));

server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  process.stdout.write(JSON.stringify({
    ready: true, port, pid: process.pid,
    variants: [dflt, large].map((v) => ({ key: v.key, rooms: v.rooms, events: v.events, timelineEvents: v.timelineEvents, bytes: v.bytes })),
  }) + '\n');
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { server.close(); process.exit(0); });
// Exit when the parent goes away (stdin closes), so no stub outlives a run.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
