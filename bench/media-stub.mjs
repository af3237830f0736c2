#!/usr/bin/env node
// Stub homeserver for the media benchmark (bench/media.mjs): node:http on 127.0.0.1 in its
// own process. Uploads are read to their end and counted; downloads serve one payload held
// in memory (the same bytes for the raw node:http client and the SDK). Prints one JSON line
// `{"port":…}` when ready; exits when its stdin closes.
import http from 'node:http';
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const payload = readFileSync(file);
const json = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/_matrix/media/v3/upload')) {
    let received = 0;
    req.on('data', (c) => (received += c.length));
    req.on('end', () => (received === Number(req.headers['content-length']) ? json(res, 200, { content_uri: 'mxc://bench/file' }) : json(res, 400, { errcode: 'M_BAD_LENGTH', received })));
    return;
  }
  req.resume();
  if (req.url === '/_matrix/client/versions') return json(res, 200, { versions: ['v1.11'] });
  if (req.url === '/_matrix/client/v1/media/config') return json(res, 200, { 'm.upload.size': 1024 * 1024 * 1024 });
  if (req.url.startsWith('/_matrix/client/v1/media/download/bench/')) {
    const body = req.url.endsWith('/small') ? payload.subarray(0, 64 * 1024) : payload;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    return res.end(body);
  }
  json(res, 404, { errcode: 'M_UNRECOGNIZED' });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port, bytes: payload.length })}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
