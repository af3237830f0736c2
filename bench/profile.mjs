#!/usr/bin/env node
// One client's whoami or send in a loop, in this process, against the stub: wall µs/call
// and CPU µs/call (user+sys of this process, far less sensitive than wall time to other
// load on the machine). bench/where-time-goes.mjs runs it under Linux perf for the
// per-layer breakdown that docs/benchmarks.md shows; on its own it is the A/B tool:
//
//   taskset -c 0 node bench/profile.mjs [--client session] [--scenario whoami|send]
//       [--n 5000] [--warmup 1000] [--rounds 3] [--concurrency 1] [--base-url URL]
//       [--cpu-prof [--interval 100] [--top 25]] [--json out.json]
//
// BENCH_SESSION_ENTRY=<path to another build's cjs/index.js> measures that build instead of
// dist/ (see adapters/session.mjs). --cpu-prof adds V8's in-process sampling profile of the
// loop, split into buckets by script (ours = dist/, axios, deps, node:http, gc, v8/native,
// idle), and saves it under bench/results/. Treat its split with care: at fine intervals the
// sampler's own cost skews it (on a 2-vCPU VM the axios share moved from 20 % to 60 % with
// the interval); the perf breakdown has no such skew.
import { spawn, spawnSync } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { openSync, readSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIR, IDENTITY, CLIENTS } from './lib/clients.mjs';
import { pinToCore, startStub } from './lib/stub.mjs';

const { values: opt } = parseArgs({
  options: {
    client: { type: 'string', default: 'session' },
    scenario: { type: 'string', default: 'whoami' },
    n: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
    json: { type: 'string' },
    top: { type: 'string', default: '25' },
    interval: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1' },
    'base-url': { type: 'string' },
    // Used by where-time-goes.mjs: a perf control FIFO pair ("ctl,ack"); perf is enabled for the timed loop only.
    'perf-ctl': { type: 'string' },
  },
});

const client = CLIENTS.find((c) => c.name === opt.client);
if (!client) throw new Error(`unknown client ${opt.client}`);


function bucketOf(url, fn) {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)' || fn === '(root)') return 'v8/native';
  if (!url) return 'node:http'; // native builtins called from node internals (e.g. Promise, Reflect)
  if (url.includes('/node_modules/axios/')) return 'axios';
  if (url.includes('/node_modules/')) return 'deps';
  if (url.includes('/dist/')) return 'ours';
  if (url.startsWith('node:')) return 'node:http';
  if (url.includes('/bench/')) return 'bench';
  return 'other';
}

// A node-internal sample is charged to node:http when the stack passes through node's HTTP,
// net or stream modules before reaching a package or dist/ frame; otherwise to the nearest
// package or dist/ frame above it (an AbortSignal, a timer or an EventTarget listener that
// our code or axios created is their cost, not the transport's).
const TRANSPORT = /^node:(_http_|net$|stream$|_stream_|internal\/(streams|http|net|stream_base_commons|dns|url))/;
function analyse(profile, calls) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) || 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const charge = (id) => {
    const { url, functionName } = byId.get(id).callFrame;
    const own = bucketOf(url, functionName);
    if (own !== 'node:http') return own;
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p).callFrame;
      if (TRANSPORT.test(f.url)) return 'node:http';
      const b = bucketOf(f.url, f.functionName);
      if (b === 'ours' || b === 'axios' || b === 'deps' || b === 'bench') return b;
    }
    return functionName === 'runMicrotasks' ? 'v8/native' : 'node:http';
  };
  const buckets = {};
  const fns = new Map();
  let total = 0;
  for (const [id, us] of dt) {
    const n = byId.get(id);
    const { url, functionName, lineNumber } = n.callFrame;
    const b = charge(id);
    buckets[b] = (buckets[b] || 0) + us;
    total += us;
    const short = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, 'dist/').replace(/^file:\/\//, '');
    const key = `${b.padEnd(10)} ${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) || 0) + us);
  }
  const busy = total - (buckets.idle || 0);
  const perCall = Object.fromEntries(Object.entries(buckets).map(([k, v]) => [k, v / calls]));
  return { totalUs: total, busyUs: busy, perCallUs: perCall, busyPerCallUs: busy / calls, top: [...fns].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / calls]) };
}

const stub = opt['base-url'] ? null : await startStub([], pinToCore(1));
const baseUrl = opt['base-url'] || stub.baseUrl;
const mod = await import(pathToFileURL(path.join(BENCH_DIR, 'adapters', `${client.adapter}.mjs`)).href);
const avail = await mod.available();
if (!avail.ok) throw new Error(avail.reason);
await mod.setup({ baseUrl, accessToken: IDENTITY.accessToken, userId: IDENTITY.userId, deviceId: IDENTITY.deviceId, roomId: IDENTITY.roomId, variant: client.variant || 'default' });

const call = opt.scenario === 'send' ? (i) => mod.send(i) : () => mod.whoami();
const n = Number(opt.n);
const lanes = Number(opt.concurrency);
let seq = 0;
/** `count` calls, `lanes` at a time (sequential when 1). */
async function loop(count) {
  let left = count;
  const lane = async () => { while (left > 0) { left--; await call(seq++); } };
  await Promise.all(Array.from({ length: lanes }, lane));
}
await loop(Number(opt.warmup));

function perfControl(command) {
  if (!opt['perf-ctl']) return;
  const [ctl, ack] = opt['perf-ctl'].split(',');
  const fd = openSync(ctl, 'w');
  writeSync(fd, `${command}\n`);
  closeSync(fd);
  const afd = openSync(ack, 'r');
  readSync(afd, Buffer.alloc(16));
  closeSync(afd);
}

const rounds = [];
perfControl('enable');
for (let r = 0; r < Number(opt.rounds); r++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await loop(n);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  const c = process.cpuUsage(c0);
  rounds.push({ wallUs: wall, cpuUs: (c.user + c.system) / n, userUs: c.user / n, sysUs: c.system / n });
}
perfControl('disable');
const med = (k) => rounds.map((x) => x[k]).sort((a, b) => a - b)[rounds.length >> 1];
const out = { client: client.name, scenario: opt.scenario, pid: process.pid, n, rounds, wallUs: med('wallUs'), cpuUs: med('cpuUs'), userUs: med('userUs'), sysUs: med('sysUs') };
console.log(`${client.name} ${opt.scenario}${lanes > 1 ? ` x${lanes}` : ''}: wall ${out.wallUs.toFixed(0)} µs/call, cpu ${out.cpuUs.toFixed(0)} µs/call (user ${out.userUs.toFixed(0)}, sys ${out.sysUs.toFixed(0)}) [${rounds.map((x) => x.wallUs.toFixed(0) + '/' + x.cpuUs.toFixed(0)).join(' ')}]`);

if (opt['cpu-prof']) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(opt.interval) });
  await session.post('Profiler.start');
  await loop(n);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const a = analyse(profile, n);
  out.profile = a;
  const pct = (v) => ((100 * v) / a.busyPerCallUs).toFixed(0).padStart(3) + '%';
  console.log(`profile: ${a.busyPerCallUs.toFixed(0)} µs busy per call (+ ${(a.perCallUs.idle || 0).toFixed(0)} µs idle)`);
  for (const [k, v] of Object.entries(a.perCallUs).sort((x, y) => y[1] - x[1])) {
    if (k !== 'idle') console.log(`  ${k.padEnd(10)} ${v.toFixed(1).padStart(7)} µs ${pct(v)}`);
  }
  console.log('top functions (self time, µs per call):');
  for (const [k, v] of a.top.filter(([k]) => !k.startsWith('idle')).slice(0, Number(opt.top))) console.log(`  ${v.toFixed(1).padStart(6)}  ${k}`);
  writeFileSync(path.join(BENCH_DIR, 'results', `profile-${client.name}-${opt.scenario}.cpuprofile`), JSON.stringify(profile));
}
if (opt.json) writeFileSync(opt.json, JSON.stringify(out, null, 2) + '\n');
await mod.stop();
if (stub) { stub.child.stdin.end(); stub.child.kill('SIGTERM'); }
setImmediate(() => process.exit(0));
