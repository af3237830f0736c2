#!/usr/bin/env node
// What encryption costs in matrix-session, as ratios to the same work in clear, measured in
// one run against one stub:
//   - crypto.start on a fresh store folder (the first one in a process also loads and
//     compiles the engine's WebAssembly), and reopening a store that has state;
//   - one encrypted send (sendText in an encrypted room) vs one plain send;
//   - one received encrypted event, decrypted and delivered by the sync loop, vs one plain
//     event delivered by the same loop;
//   - that `require('matrix-session')` loads none of the engine's modules (crypto not started).
//
// Run by bench/run.mjs (section "Encryption" of the report), or alone:
//   node bench/crypto.mjs [--n 300] [--rounds 3]      prints the JSON result
// The stub (this file with --stub) speaks just enough of the keys API for a bot alone in its
// rooms: key upload, a key query answered with the uploaded device keys, message sends
// (kept, so /sync can hand the encrypted ones back to be decrypted), sync batches on demand.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const ENTRY = process.env.BENCH_SESSION_ENTRY ? path.resolve(process.env.BENCH_SESSION_ENTRY) : path.join(ROOT, 'dist', 'cjs', 'index.js');
const require = createRequire(import.meta.url);
const USER = '@bench:stub.test';
const DEVICE = 'BENCHDEV';
const PLAIN = '!plain:stub.test';
const SECRET = '!secret:stub.test';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

// ---------------------------------------------------------------------------------------
// The stub

// What Synapse puts in every sync response of a device with keys: the server's key counts.
const KEY_COUNTS = { device_one_time_keys_count: { signed_curve25519: 50 }, device_unused_fallback_key_types: ['signed_curve25519'] };

function stub() {
  let deviceKeys = null;
  const sent = { [PLAIN]: [], [SECRET]: [] };
  let batch = null; // the next /sync answer, armed by POST /_bench/batch
  let n = 0;
  const json = (res, status, body) => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
  };
  const read = (req) => new Promise((r) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => r(c.length ? JSON.parse(Buffer.concat(c)) : {})); });
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const p = decodeURIComponent(url.pathname);
    const body = await read(req);
    if (p === '/_bench/batch') {
      // Arms the next /sync: `count` events of the room, sent earlier by the bot.
      const room = body.room;
      const events = sent[room].slice(-body.count).map((e) => ({ ...e, event_id: `$${++n}`, sender: USER, origin_server_ts: Date.now() }));
      batch = { ...KEY_COUNTS, next_batch: `b${n}`, rooms: { join: { [room]: { timeline: { events } } } } };
      return json(res, 200, { armed: events.length });
    }
    if (p.endsWith('/state/m.room.encryption/') || p.endsWith('/state/m.room.encryption')) {
      return p.includes(SECRET) ? json(res, 200, { algorithm: 'm.megolm.v1.aes-sha2' }) : json(res, 404, { errcode: 'M_NOT_FOUND', error: 'no' });
    }
    if (p.endsWith('/state/m.room.history_visibility/')) return json(res, 200, { history_visibility: 'shared' });
    if (p.endsWith('/members')) return json(res, 200, { chunk: [{ type: 'm.room.member', state_key: USER, sender: USER, content: { membership: 'join' }, event_id: '$m', origin_server_ts: 1 }] });
    if (p === '/_matrix/client/v3/keys/upload') {
      if (body.device_keys) deviceKeys = body.device_keys;
      return json(res, 200, { one_time_key_counts: { signed_curve25519: 50 } });
    }
    if (p === '/_matrix/client/v3/keys/query') return json(res, 200, { device_keys: { [USER]: deviceKeys ? { [DEVICE]: deviceKeys } : {} }, failures: {} });
    if (p === '/_matrix/client/v3/keys/claim') return json(res, 200, { one_time_keys: {}, failures: {} });
    const send = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/.exec(p);
    if (send) {
      sent[send[1]]?.push({ type: send[2], content: body });
      if (sent[send[1]]?.length > 5000) sent[send[1]].shift();
      return json(res, 200, { event_id: `$s${++n}` });
    }
    if (p.startsWith('/_matrix/client/v3/sendToDevice/')) return json(res, 200, {});
    if (p === '/_matrix/client/v3/sync') {
      if (batch) {
        const b = batch;
        batch = null;
        return json(res, 200, b);
      }
      const gone = () => clearTimeout(wait);
      const wait = setTimeout(() => {
        req.socket.off('close', gone);
        json(res, 200, { ...KEY_COUNTS, next_batch: `e${++n}` });
      }, 50);
      req.socket.once('close', gone);
      return;
    }
    return json(res, 404, { errcode: 'M_UNRECOGNIZED', error: `${req.method} ${p}` });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function startStub() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--stub'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve({ child, baseUrl: `http://127.0.0.1:${JSON.parse(String(d)).port}` }));
    child.once('exit', (code) => reject(new Error(`crypto stub exited (${code})`)));
  });
}

// ---------------------------------------------------------------------------------------
// The client

async function timeIt(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e3; // µs
}

async function sends(s, room, n) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await s.rooms.sendText(room, `message ${i}`);
  return Number(process.hrtime.bigint() - t) / 1e3 / n;
}

/** µs per event for the loop to deliver a batch of `count` events the bot sent to `room` earlier. */
async function receive(s, baseUrl, room, count) {
  let got = 0;
  let done;
  const all = new Promise((r) => (done = r));
  const on = (rid, ev) => {
    if (rid === room && ev.type === 'm.room.message' && ++got === count) done();
  };
  s.on('room.message', on);
  const armed = await (await fetch(`${baseUrl}/_bench/batch`, { method: 'POST', body: JSON.stringify({ room, count }) })).json();
  if (armed.armed !== count) throw new Error(`only ${armed.armed} events to hand back`);
  const t = process.hrtime.bigint();
  await all;
  const us = Number(process.hrtime.bigint() - t) / 1e3 / count;
  s.off('room.message', on);
  return us;
}

async function measure({ n = 300, rounds = 3 } = {}) {
  const { child, baseUrl } = await startStub();
  const { MatrixSession } = require(ENTRY);
  const dirs = [];
  const dir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'ms-bench-crypto-'));
    dirs.push(d);
    return d;
  };
  const session = () => new MatrixSession({ baseUrl, accessToken: 'tok', userId: USER, deviceId: DEVICE });
  const out = { n, rounds, startFirstMs: null, startFreshMs: [], startReopenMs: [], plainSendUs: [], encryptedSendUs: [], plainReceiveUs: [], decryptReceiveUs: [] };
  try {
    // The first start of the process: the engine is loaded and compiled.
    const first = session();
    const storeA = dir();
    out.startFirstMs = (await timeIt(() => first.crypto.start({ storeDir: storeA }))) / 1000;
    await first.close();

    for (let round = 0; round < rounds; round++) {
      const fresh = session();
      out.startFreshMs.push((await timeIt(() => fresh.crypto.start({ storeDir: dir() }))) / 1000);
      await fresh.close();

      const s = session();
      out.startReopenMs.push((await timeIt(() => s.crypto.start({ storeDir: storeA }))) / 1000);
      // Warm both paths (the first encrypted send shares the room key), then one after the other.
      await sends(s, PLAIN, 20);
      await sends(s, SECRET, 20);
      out.plainSendUs.push(await sends(s, PLAIN, n));
      out.encryptedSendUs.push(await sends(s, SECRET, n));
      await s.sync.start({ timeout: 1_000 });
      out.plainReceiveUs.push(await receive(s, baseUrl, PLAIN, n));
      out.decryptReceiveUs.push(await receive(s, baseUrl, SECRET, n));
      await s.close();
    }
  } finally {
    child.stdin.end();
    child.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  // Importing the SDK without starting encryption loads none of the engine's code.
  const probe = spawn(process.execPath, ['-e', `require(${JSON.stringify(ENTRY)}); const m = Object.keys(require.cache).filter((k) => /matrix-sdk-crypto-wasm|fake-indexeddb|[\\\\/]crypto[\\\\/](engine|store|wasm)/.test(k)); process.stdout.write(JSON.stringify(m));`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let loaded = '';
  probe.stdout.on('data', (d) => (loaded += d));
  await new Promise((r) => probe.once('close', r));
  const m = (xs) => median(xs);
  return {
    ok: true,
    ...out,
    importLoadsEngine: JSON.parse(loaded || '[]'),
    summary: {
      startFirstMs: out.startFirstMs,
      startFreshMs: m(out.startFreshMs),
      startReopenMs: m(out.startReopenMs),
      plainSendUs: m(out.plainSendUs),
      encryptedSendUs: m(out.encryptedSendUs),
      plainReceiveUs: m(out.plainReceiveUs),
      decryptReceiveUs: m(out.decryptReceiveUs),
    },
  };
}

export { measure };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { stub: { type: 'boolean' }, n: { type: 'string' }, rounds: { type: 'string' } } });
  if (values.stub) stub();
  else {
    measure({ n: Number(values.n || 300), rounds: Number(values.rounds || 3) }).then(
      (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
      (e) => {
        process.stderr.write(String(e.stack || e) + '\n');
        process.exit(1);
      },
    );
  }
}
