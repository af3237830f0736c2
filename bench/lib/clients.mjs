// The clients the bench knows, in report order. `adapter` names a file in bench/adapters/;
// `variant` is passed to that adapter's setup(). `peer` marks the two SDKs the targets
// compare against; `reference` marks extra columns that are context, not targets.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ROOT_DIR = path.dirname(BENCH_DIR);

export const CLIENTS = [
  { name: 'session', adapter: 'session', label: 'matrix-session (this SDK)' },
  { name: 'floor', adapter: 'floor', label: 'node:http keep-alive, hand JSON (the floor)' },
  { name: 'axios', adapter: 'axios', variant: 'default', label: 'axios, default instance' },
  { name: 'axios-tuned', adapter: 'axios', variant: 'tuned', label: 'axios, keep-alive agent, maxRedirects 0, decompress false', reference: true },
  { name: 'bot-sdk', adapter: 'bot-sdk', label: 'matrix-bot-sdk', peer: true },
  { name: 'js-sdk', adapter: 'js-sdk', label: 'matrix-js-sdk', peer: true },
];

export const adapterPath = (client) => path.join(BENCH_DIR, 'adapters', `${client.adapter}.mjs`);

// Fixed identity every adapter uses against the stub.
export const IDENTITY = {
  userId: '@bench:localhost',
  deviceId: 'BENCH',
  // Token for the default /sync variant; `syt_bench_<R>x<E>` selects another (see stub-server.mjs).
  accessToken: 'syt_bench',
  roomId: '!benchroom:localhost',
};
