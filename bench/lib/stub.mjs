// Starts bench/stub-server.mjs as its own process and resolves once it prints its ready line.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR } from './clients.mjs';

/** Wraps a command so it runs on one core (taskset), or leaves it as is where taskset is missing. */
export function pinToCore(core) {
  if (spawnSync('taskset', ['-c', String(core), 'true']).status !== 0) return (cmd, args) => [cmd, args];
  return (cmd, args) => ['taskset', ['-c', String(core), cmd, ...args]];
}

export function startStub(extraArgs = [], pin = (cmd, args) => [cmd, args]) {
  const [cmd, args] = pin(process.execPath, [path.join(BENCH_DIR, 'stub-server.mjs'), ...extraArgs]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      try {
        const info = JSON.parse(buf.slice(0, nl));
        resolve({ child, info, baseUrl: `http://127.0.0.1:${info.port}` });
      } catch (e) {
        reject(e);
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`stub exited early (${code})`)));
  });
}
