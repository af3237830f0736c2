#!/usr/bin/env node
// Where the CPU time of one call goes, by layer, measured with Linux perf (cpu-clock
// sampling, kernel included, outside the process, so the sampler does not perturb what
// it measures the way V8's in-process profiler does at fine intervals):
//
//   node bench/where-time-goes.mjs [--n 20000] [--warmup 2000] [--clients floor,axios-tuned,session]
//                                  [--scenarios whoami,send] [--concurrency 1] [--reps 1] [--freq 4000] [--top 0]
//
// For each scenario x client: `perf record -g -k mono` of `node --perf-prof bench/profile.mjs`
// against the stub, recording only the timed loop (perf's control FIFO), `perf inject --jit`
// for the JIT symbols, then the samples of the client's process are split into layers by
// bench/lib/perf-split.mjs (see there for the rules); --top N also lists the heaviest
// functions. BENCH_SESSION_ENTRY (see adapters/session.mjs) measures another build. Output: a table on stdout and bench/results/where-time-goes.json, which
// run.mjs puts into docs/benchmarks.md. Needs `perf` (linux-tools) and permission to use
// it (root, or kernel.perf_event_paranoid <= 1); without it, says so and exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ROOT_DIR } from './lib/clients.mjs';
import { splitPerfScript } from './lib/perf-split.mjs';
import { pinToCore, startStub } from './lib/stub.mjs';

const log = (...a) => process.stderr.write(a.join(' ') + '\n');
export const LAYERS = ['ours', 'axios', 'deps', 'node:http', 'gc', 'v8/native', 'bench', 'other threads'];

function perfUsable() {
  const v = spawnSync('perf', ['version'], { encoding: 'utf8' });
  if (v.status !== 0) return { ok: false, reason: '`perf` is not installed (linux-tools)' };
  const t = spawnSync('perf', ['record', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], { encoding: 'utf8' });
  if (t.status !== 0) return { ok: false, reason: `perf record fails here: ${t.stderr.trim().split('\n').slice(-1)[0]}` };
  return { ok: true, version: v.stdout.trim() };
}


function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = ''; let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

export async function measure({ clients, scenarios, n, warmup, freq, top = 0, concurrency = 1, reps = 1 }) {
  const usable = perfUsable();
  if (!usable.ok) return { ok: false, reason: usable.reason };
  const stub = await startStub([], pinToCore(1));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'msbench-perf-'));
  const runs = {};
  try {
    // `reps` rounds, clients interleaved; per client the round with the least CPU is kept
    // (other load on the machine only ever adds time).
    for (let rep = 1; rep <= reps; rep++) for (const scenario of scenarios) {
      runs[scenario] ??= {};
      for (const client of clients) {
        // One scratch directory per run: node writes its jitdump (and perf inject one .so per
        // compiled function) into its working directory.
        const work = mkdtempSync(path.join(dir, `${client}-${scenario}-`));
        const ctl = path.join(work, 'ctl'); const ack = path.join(work, 'ack');
        spawnSync('mkfifo', [ctl, ack]);
        const data = path.join(work, 'perf.data');
        const json = path.join(work, 'result.json');
        const pin = spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? ['taskset', '-c', '0'] : [];
        // --perf-prof writes a jitdump that `perf inject --jit` turns into symbols valid for
        // the time of each sample (a plain perf map goes stale when V8 reuses code addresses).
        const r = await run('perf', ['record', '-k', 'mono', '-e', 'cpu-clock', '-F', String(freq), '-g', '-D', '-1', '--control', `fifo:${ctl},${ack}`, '-o', data, '--',
          ...pin, process.execPath, '--perf-prof', '--interpreted-frames-native-stack', path.join(BENCH_DIR, 'profile.mjs'),
          '--client', client, '--scenario', scenario, '--concurrency', String(concurrency), '--n', String(n), '--warmup', String(warmup), '--rounds', '1',
          '--base-url', stub.baseUrl, '--perf-ctl', `${ctl},${ack}`, '--json', json], { cwd: work });
        const injected = r.code === 0 ? spawnSync('perf', ['inject', '--jit', '-i', data, '-o', `${data}.jit`], { cwd: work, encoding: 'utf8' }) : null;
        if (r.code !== 0 || !existsSync(json) || injected.status !== 0) {
          const error = (injected?.stderr || r.err || r.out).trim().split('\n').slice(-3).join(' / ');
          if (!runs[scenario][client]?.ok) runs[scenario][client] = { ok: false, error };
          log(`[perf] ${scenario} ${client}: failed: ${error}`);
          rmSync(work, { recursive: true, force: true });
          continue;
        }
        const res = JSON.parse(readFileSync(json, 'utf8'));
        const script = spawnSync('perf', ['script', '-F', 'comm,pid,tid,period,ip,sym', '-i', `${data}.jit`], { cwd: work, encoding: 'utf8', maxBuffer: 1 << 30 });
        const split = splitPerfScript(script.stdout, { pid: res.pid });
        const perCall = Object.fromEntries(Object.entries(split.buckets).map(([k, ns]) => [k, ns / 1000 / res.n]));
        const totalUs = split.totalNs / 1000 / res.n;
        const entry = { ok: true, n: res.n, wallUs: res.wallUs, cpuUs: res.cpuUs, samples: split.samples, perfCpuUs: totalUs, layersUs: perCall, top: split.top.slice(0, top).map(([k, ns]) => [k, ns / 1000 / res.n]), topFunctions: split.topFunctions.slice(0, top).map(([k, ns]) => [k, ns / 1000 / res.n]) };
        const prev = runs[scenario][client];
        entry.allRepsCpuUs = [...(prev?.allRepsCpuUs || []), totalUs];
        if (!prev?.ok || totalUs < prev.perfCpuUs) runs[scenario][client] = entry;
        else prev.allRepsCpuUs = entry.allRepsCpuUs;
        log(`[perf] ${reps > 1 ? `${rep}/${reps} ` : ''}${scenario.padEnd(6)} ${client.padEnd(11)} wall ${res.wallUs.toFixed(0)} µs, cpu ${res.cpuUs.toFixed(0)} µs/call; perf: ${LAYERS.filter((l) => perCall[l]).map((l) => `${l} ${perCall[l].toFixed(0)}`).join(', ')} (${split.samples} samples)`);
        rmSync(work, { recursive: true, force: true });
      }
    }
  } finally {
    stub.child.stdin.end();
    stub.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  let axiosVersion = null;
  try { axiosVersion = JSON.parse(readFileSync(path.join(ROOT_DIR, 'node_modules', 'axios', 'package.json'), 'utf8')).version; } catch { /* */ }
  return { ok: true, date: new Date().toISOString(), perf: usable.version, node: process.version, axios: axiosVersion, n, warmup, freq, concurrency, reps, runs };
}

export function renderTable(res) {
  const lines = [];
  for (const [scenario, byClient] of Object.entries(res.runs)) {
    const clients = Object.keys(byClient).filter((c) => byClient[c].ok);
    lines.push(`| ${scenario}: CPU µs per call (share) | ${clients.join(' | ')} |`, `| --- | ${clients.map(() => '---:').join(' | ')} |`);
    const layers = LAYERS.filter((l) => clients.some((c) => byClient[c].layersUs[l] >= 0.5));
    for (const l of layers) {
      lines.push(`| ${l} | ${clients.map((c) => { const r = byClient[c]; const v = r.layersUs[l] || 0; return `${v.toFixed(0)} (${((100 * v) / r.perfCpuUs).toFixed(0)}%)`; }).join(' | ')} |`);
    }
    lines.push(`| **total CPU (perf)** | ${clients.map((c) => `**${byClient[c].perfCpuUs.toFixed(0)}**`).join(' | ')} |`);
    lines.push(`| wall µs per call (same run) | ${clients.map((c) => byClient[c].wallUs.toFixed(0)).join(' | ')} |`, '');
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: opt } = parseArgs({
    options: {
      n: { type: 'string', default: '20000' },
      warmup: { type: 'string', default: '2000' },
      clients: { type: 'string', default: 'floor,axios-tuned,session' },
      scenarios: { type: 'string', default: 'whoami,send' },
      freq: { type: 'string', default: '4000' },
      top: { type: 'string', default: '0' },
      concurrency: { type: 'string', default: '1' },
      reps: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join(BENCH_DIR, 'results', 'where-time-goes.json') },
    },
  });
  const res = await measure({
    clients: opt.clients.split(','), scenarios: opt.scenarios.split(','),
    n: Number(opt.n), warmup: Number(opt.warmup), freq: Number(opt.freq), top: Number(opt.top), concurrency: Number(opt.concurrency), reps: Number(opt.reps),
  });
  if (!res.ok) { log(`where-time-goes: skipped: ${res.reason}`); process.exit(0); }
  mkdirSync(path.dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, JSON.stringify(res, null, 2) + '\n');
  process.stdout.write(renderTable(res) + '\n');
  if (Number(opt.top)) {
    for (const [scenario, byClient] of Object.entries(res.runs)) for (const [client, r] of Object.entries(byClient)) {
      if (!r.ok) continue;
      process.stdout.write(`\n${scenario} ${client}: heaviest leaves (µs/call)\n`);
      for (const [k, v] of r.top) process.stdout.write(`${v.toFixed(2).padStart(7)}  ${k}\n`);
      process.stdout.write(`\n${scenario} ${client}: by the JavaScript function charged (self + the native code it called, µs/call)\n`);
      for (const [k, v] of r.topFunctions) process.stdout.write(`${v.toFixed(2).padStart(7)}  ${k}\n`);
    }
  }
  log(`[done] ${opt.out}`);
}
