#!/usr/bin/env node
// One media measurement in a fresh process (started by bench/media.mjs):
//   node --expose-gc bench/media-worker.mjs '{"mode":"upload|download|rss","client":"floor|floor-loaded|session|session-buffer",…}'
// upload / download: 1 warm-up transfer of the payload, then `reps` timed ones; MiB/s each.
// rss: a 64 KiB warm-up download, then two downloads of the payload (session:
// media.downloadToFile; floor: http.get piped to a file; session-buffer: downloadBuffer, for
// contrast), RSS sampled every 2 ms; growth = peak - the RSS before each (after two GCs);
// and the JS heap + ArrayBuffers still held after both, after GC.
// Prints `BENCH_RESULT {json}`.
import http from 'node:http';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const TOKEN = 'bench-media-token';
const MiB = 1024 * 1024;
const size = statSync(cfg.file).size;
const url = new URL(cfg.baseUrl);
const agent = new http.Agent({ keepAlive: true });
const out = `${cfg.file}.${process.pid}.out`;

function session() {
  const { MatrixSession } = require(path.join(ROOT, 'dist', 'cjs', 'index.js'));
  return new MatrixSession({ baseUrl: cfg.baseUrl, accessToken: TOKEN, userId: '@bench:bench', maxResponseBytes: 2 * size + MiB });
}

function rawUpload() {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: 'POST', path: '/_matrix/media/v3/upload', agent,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/octet-stream', 'Content-Length': size } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks)).content_uri) : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    createReadStream(cfg.file).pipe(req);
  });
}

function rawDownload(name = 'file') {
  return new Promise((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path: `/_matrix/client/v1/media/download/bench/${name}`, agent, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
        pipeline(res, createWriteStream(out)).then(resolve, reject);
      })
      .on('error', reject);
  });
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function transfers() {
  const s = cfg.client === 'session' ? session() : null;
  // floor-loaded: the raw node:http transfer in a process that has loaded the SDK and made a
  // session it does not use: what V8's heap and GC heuristics cost apart from the SDK's own path.
  const idle = cfg.client === 'floor-loaded' ? session() : null;
  const once =
    cfg.mode === 'upload'
      ? s ? () => s.media.upload(cfg.file) : rawUpload
      : s ? () => s.media.downloadToFile('mxc://bench/file', out) : () => rawDownload();
  await once(); // warm-up (and, for the session, /versions and the media config)
  const mibPerSec = [];
  for (let i = 0; i < cfg.reps; i++) mibPerSec.push(size / MiB / (await timed(once)));
  await s?.close();
  await idle?.close();
  return { mibPerSec };
}

/** One download of the payload by this client; returns the byte count. */
async function downloadOnce(s) {
  if (cfg.client === 'session') return (await s.media.downloadToFile('mxc://bench/file', out)).bytes;
  if (cfg.client === 'session-buffer') return (await s.media.downloadBuffer('mxc://bench/file')).data.length;
  await rawDownload();
  return statSync(out).size;
}

/** RSS growth of one download: the peak sampled every 2 ms during it, minus the RSS before it (after two GCs). */
async function growth(s) {
  global.gc();
  global.gc();
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  const bytes = await downloadOnce(s);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  if (bytes !== size) throw new Error(`got ${bytes} bytes, expected ${size}`);
  return (peak - before) / MiB;
}

const held = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

async function rss() {
  const s = cfg.client === 'floor' ? null : session();
  if (s) await s.media.downloadToFile('mxc://bench/small', out);
  else await rawDownload('small');
  global.gc();
  global.gc();
  const heldBefore = held();
  const firstMiB = await growth(s); // the process's first large download
  const nextMiB = await growth(s); // another one, in a process that has done one (steady state)
  global.gc();
  global.gc();
  const retainedMiB = (held() - heldBefore) / MiB; // JS heap and ArrayBuffers still held after both
  await s?.close();
  return { firstMiB, nextMiB, retainedMiB };
}

try {
  const result = cfg.mode === 'rss' ? await rss() : await transfers();
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ ok: true, ...result })}\n`);
} catch (e) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ ok: false, error: String(e && e.stack) })}\n`);
  process.exitCode = 1;
} finally {
  rmSync(out, { force: true });
  agent.destroy();
}
