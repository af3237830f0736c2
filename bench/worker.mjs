#!/usr/bin/env node
// Runs ONE scenario for ONE client in this (fresh) process and prints one line
// `BENCH_RESULT {json}` on stdout. Started by run.mjs as
//   node --expose-gc bench/worker.mjs '<json config>'
// config: { client, adapter, variant, scenario, baseUrl, n, warmup, concurrency,
//           rooms, events, timeoutMs }
// Scenarios: send | send-concurrent | whoami | sync (sync takes rooms/events and selects
// the stub's variant through the access token) | sync-soak (soakEvents/soakBatch/soakRooms:
// that many events through the client's running sync loop, heap after GC sampled along the
// way) | sync-gap (gapEvents: one limited timeline whose missing events the client fetches).
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { BENCH_DIR, IDENTITY } from './lib/clients.mjs';

const cfg = JSON.parse(process.argv[2] || '{}');
const now = () => process.hrtime.bigint();
const ms = (a, b) => Number(b - a) / 1e6;
const MB = (bytes) => bytes / (1024 * 1024);

function emit(result) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ client: cfg.client, scenario: cfg.scenario, ...result })}\n`);
}
function die(err) {
  emit({ ok: false, error: String((err && err.stack) || err).split('\n').slice(0, 6).join('\n') });
  process.exit(1);
}
process.on('unhandledRejection', die);
const watchdog = setTimeout(() => die(new Error(`timed out after ${cfg.timeoutMs} ms`)), cfg.timeoutMs || 120_000);
watchdog.unref();

// Plain node:http calls to the stub's /_bench endpoints (outside every timed region).
const controlAgent = new http.Agent({ keepAlive: false });
function control(pathname) {
  const u = new URL(pathname, cfg.baseUrl);
  return new Promise((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: controlAgent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString())); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

function gc() {
  if (typeof global.gc === 'function') { global.gc(); global.gc(); }
}

async function main() {
  const mod = await import(pathToFileURL(path.join(BENCH_DIR, 'adapters', `${cfg.adapter}.mjs`)).href);
  const avail = await mod.available();
  if (!avail.ok) { emit({ ok: false, skipped: avail.reason }); return; }

  const tokens = {
    sync: `${IDENTITY.accessToken}_${cfg.rooms}x${cfg.events}`,
    'sync-soak': `${IDENTITY.accessToken}_soak_${cfg.soakEvents}_${cfg.soakBatch}_${cfg.soakRooms}`,
    'sync-gap': `${IDENTITY.accessToken}_gap_${cfg.gapEvents}`,
  };
  if ((cfg.scenario === 'sync-soak' || cfg.scenario === 'sync-gap') && typeof mod.syncLoop !== 'function') {
    emit({ ok: false, skipped: 'no sync loop in this adapter (the sync-scale scenarios compare matrix-session with the floor)' });
    return;
  }
  const ctx = {
    baseUrl: cfg.baseUrl,
    accessToken: tokens[cfg.scenario] ?? IDENTITY.accessToken,
    userId: IDENTITY.userId,
    deviceId: IDENTITY.deviceId,
    roomId: IDENTITY.roomId,
    variant: cfg.variant,
  };
  await mod.setup(ctx);

  if (cfg.scenario === 'send' || cfg.scenario === 'whoami') return sequential(mod, cfg.scenario);
  if (cfg.scenario === 'send-concurrent') return concurrent(mod);
  if (cfg.scenario === 'sync') return syncScenario(mod);
  if (cfg.scenario === 'sync-soak') return loopScenario(mod, cfg.soakEvents, { heapSamples: true });
  if (cfg.scenario === 'sync-gap') return loopScenario(mod, cfg.gapEvents, { heapSamples: false });
  throw new Error(`unknown scenario ${cfg.scenario}`);
}

async function sequential(mod, which) {
  const call = which === 'send' ? (i) => mod.send(i) : () => mod.whoami();
  const first = await call(-1);
  const expectFirst = which === 'send' ? typeof first === 'string' && first.startsWith('$') : first === IDENTITY.userId;
  if (!expectFirst) throw new Error(`${which} returned ${JSON.stringify(first)}`);
  for (let i = 0; i < cfg.warmup; i++) await call(-2 - i);
  await control('/_bench/reset');
  const n = cfg.n;
  const t0 = now();
  for (let i = 0; i < n; i++) await call(i);
  const t1 = now();
  const stats = await control('/_bench/stats');
  const route = which;
  const seen = stats.routes[route] || 0;
  const ok = seen === n && stats.duplicateTxn === 0 && stats.requests === seen;
  emit({
    ok,
    error: ok ? undefined : `stub saw ${seen} ${route} of ${stats.requests} requests (expected ${n}), ${stats.duplicateTxn} duplicate txn ids`,
    n, totalMs: ms(t0, t1), usPerCall: (ms(t0, t1) * 1000) / n,
    stubRequests: stats.requests,
  });
}

async function concurrent(mod) {
  const lanes = cfg.concurrency;
  async function runBatch(n, offset) {
    let next = 0;
    const lane = async () => { while (next < n) { const i = next++; await mod.send(offset + i); } };
    await Promise.all(Array.from({ length: lanes }, lane));
  }
  await runBatch(Math.max(cfg.warmup, lanes), 1_000_000);
  await control('/_bench/reset');
  const n = cfg.n;
  const t0 = now();
  await runBatch(n, 0);
  const t1 = now();
  const stats = await control('/_bench/stats');
  const seen = stats.routes.send || 0;
  const ok = seen === n && stats.duplicateTxn === 0 && stats.requests === seen;
  emit({
    ok,
    error: ok ? undefined : `stub saw ${seen} sends of ${stats.requests} requests (expected ${n}), ${stats.duplicateTxn} duplicate txn ids`,
    n, concurrency: lanes, totalMs: ms(t0, t1), reqPerSec: n / (ms(t0, t1) / 1000), usPerCall: (ms(t0, t1) * 1000) / n,
  });
}

async function syncScenario(mod) {
  const expected = cfg.rooms * cfg.events;
  const seen = new Uint8Array(expected);
  let got = 0; let dup = 0; let extra = 0; let tDone = 0n;
  let peakSampled = process.memoryUsage.rss();
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });

  const onEvent = (roomId, event) => {
    const seq = event && event.content && event.content['bench.seq'];
    if (typeof seq !== 'number' || seq < 0 || seq >= expected) { extra++; return; }
    if (seen[seq]) { dup++; return; }
    seen[seq] = 1;
    got++;
    if ((got & 255) === 0) { const r = process.memoryUsage.rss(); if (r > peakSampled) peakSampled = r; }
    if (got === expected) { tDone = now(); resolveDone(); }
  };

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage.rss();
  await control('/_bench/reset');
  const { t0, cpuMs, started } = await timedSync(() => mod.sync(onEvent), done, resolveDone, () => {
    const r = process.memoryUsage.rss(); if (r > peakSampled) peakSampled = r;
  });
  // Let anything queued behind the last event run (duplicates would show here), then GC
  // with the client still alive: what the application keeps paying for after the sync.
  await new Promise((r) => setImmediate(r));
  const rssAfter = process.memoryUsage.rss();
  if (rssAfter > peakSampled) peakSampled = rssAfter;
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const maxRss = process.resourceUsage().maxRSS * 1024; // kernel high-water mark, whole process
  const stats = await control('/_bench/stats');
  await mod.stop();
  void started;
  const ok = got === expected && dup === 0;
  emit({
    ok,
    error: ok ? undefined : `${got}/${expected} timeline events handed over, ${dup} duplicates`,
    rooms: cfg.rooms, events: cfg.events, expected, got, dup, extra,
    ms: ms(t0, tDone),
    cpuMs,
    peakRssMB: MB(Math.max(maxRss, peakSampled)),
    peakRssSampledMB: MB(peakSampled),
    rssBeforeMB: MB(rssBefore),
    heapAfterGcMB: MB(heapAfter),
    heapRetainedMB: MB(heapAfter - heapBefore),
    syncMode: mod.syncMode,
    stubRoutes: stats.routes,
    stubUnknown: stats.unknown,
  });
}

/**
 * `expected` events through the client's running sync loop (soak: the stub's batches; gap:
 * one limited timeline filled from /messages): time to the last one, client CPU, peak RSS;
 * each event must arrive once and in order. With `heapSamples`, heap used after a forced GC
 * every `expected / 20` events (inside the handler, so the batch being delivered is still
 * alive: a constant); the trend is the least-squares slope over the samples after the first
 * two (warm-up), in KB per 100 000 events.
 */
async function loopScenario(mod, expected, { heapSamples }) {
  const seen = new Uint8Array(expected);
  const every = heapSamples ? Math.max(1, Math.floor(expected / 20)) : 0;
  const samples = [];
  let got = 0; let dup = 0; let extra = 0; let outOfOrder = 0; let lastSeq = -1; let tDone = 0n;
  let peak = process.memoryUsage.rss();
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const onEvent = (_roomId, event) => {
    const seq = event && event.content && event.content['bench.seq'];
    if (typeof seq !== 'number' || seq < 0 || seq >= expected) { extra++; return; } // the gap's anchor
    if (seen[seq]) { dup++; return; }
    seen[seq] = 1;
    if (seq < lastSeq) outOfOrder++;
    lastSeq = seq;
    got++;
    if (every && got % every === 0) {
      gc();
      const m = process.memoryUsage();
      samples.push({ events: got, heapMB: MB(m.heapUsed) });
      if (m.rss > peak) peak = m.rss;
    }
    if (got === expected) { tDone = now(); resolveDone(); }
  };
  gc();
  await control('/_bench/reset');
  const { t0, cpuMs, started } = await timedSync(() => mod.syncLoop(onEvent), done, resolveDone, () => {
    const r = process.memoryUsage.rss(); if (r > peak) peak = r;
  });
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const stats = await control('/_bench/stats');
  await mod.stop();
  void started;
  const ok = got === expected && dup === 0 && outOfOrder === 0;
  const elapsed = ms(t0, tDone);
  const result = {
    ok,
    error: ok ? undefined : `${got}/${expected} events, ${dup} duplicates, ${outOfOrder} out of order`,
    expected, got, dup, extra, ms: elapsed, eventsPerSec: expected / (elapsed / 1000),
    cpuMs, // GC samples included
    peakRssMB: MB(Math.max(maxRss, peak)),
    syncMode: mod.syncLoopMode, stubRoutes: stats.routes, stubUnknown: stats.unknown,
  };
  if (heapSamples) {
    const tail = samples.slice(2);
    const slope = leastSquares(tail.map((x) => x.events), tail.map((x) => x.heapMB * 1048576));
    Object.assign(result, {
      heapFirstMB: samples[0]?.heapMB, heapLastMB: samples.at(-1)?.heapMB,
      heapMaxMB: Math.max(...samples.map((x) => x.heapMB)),
      heapSlopeKBPer100k: slope === null ? null : (slope * 100_000) / 1024,
      heapSamples: samples,
    });
  }
  emit(result);
}

/**
 * Starts the client's sync and waits for `done` (a failure to start ends the wait too),
 * sampling RSS meanwhile. Returns the start time and the client's CPU time over the span
 * (user + system: steadier than wall time on a busy machine).
 */
async function timedSync(start, done, resolveDone, sampleRss) {
  const sampler = setInterval(sampleRss, 5);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  let error = null;
  const started = Promise.resolve().then(start).catch((e) => { error = e; resolveDone(); });
  await done;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  if (error) throw error;
  return { t0, cpuMs: (cpu.user + cpu.system) / 1000, started };
}

function leastSquares(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0; let den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2; }
  return den === 0 ? null : num / den;
}

main().then(() => { clearTimeout(watchdog); setImmediate(() => process.exit(0)); }, die);
