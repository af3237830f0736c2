// The request core against stub servers on 127.0.0.1 that misbehave below HTTP semantics:
// bodies far larger than the size cap, bodies cut short, replies that never come.
import type { ServerResponse } from 'node:http';
import {
  ConnectionError,
  MatrixSession,
  ResponseTooLargeError,
  TimeoutError,
  ValidationError,
  type SessionOptions,
} from '../../lib';
import type { RequestOptions, RequestSpec } from '../../lib/core/request';
import { rejection } from '../helpers/transport-faults';
import { startStub, streamBody, truncatedReply, useRealSockets, type Stub, type StubHandler, type StreamOutcome } from '../helpers/stub-server';

useRealSockets();

const P = '/_matrix/client/v3/thing';
const MiB = 1024 * 1024;

class TestSession extends MatrixSession {
  get raw() {
    return this.core;
  }
  call<T = Record<string, unknown>>(spec: Partial<RequestSpec> = {}, options?: RequestOptions): Promise<T> {
    return this.core.request<T>({ method: 'GET', path: P, ...spec }, options);
  }
}

const stubs: Stub[] = [];
const sessions: MatrixSession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

async function stub(handler: StubHandler, options: Partial<SessionOptions> = {}) {
  const server = await startStub(handler);
  stubs.push(server);
  const logs: string[] = [];
  const s = new TestSession({
    baseUrl: server.url,
    accessToken: 'tok',
    userId: '@me:hs.test',
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    logger: (l) => logs.push(l),
    ...options,
  });
  sessions.push(s);
  return { s, server, sent: () => logs.filter((l) => l.startsWith('->')) };
}

describe('maxResponseBytes', () => {
  it('defaults to 64 MiB and is validated like the other options', () => {
    expect(new TestSession({ baseUrl: 'http://hs.test' }).raw.maxResponseBytes).toBe(64 * MiB);
    expect(new TestSession({ baseUrl: 'http://hs.test', maxResponseBytes: 1024 }).raw.maxResponseBytes).toBe(1024);
    for (const bad of [0, -1, 1.5, '1024', null, Infinity]) {
      expect(() => new MatrixSession({ baseUrl: 'http://hs.test', maxResponseBytes: bad as number })).toThrow(ValidationError);
    }
  });

  it('a body far larger than the cap: ResponseTooLargeError, and the connection is closed without reading the rest', async () => {
    const TOTAL = 1024 * MiB;
    let streamed: StreamOutcome | undefined;
    const { s, sent } = await stub((_q, res) => (streamed = streamBody(res, TOTAL)), { maxResponseBytes: 64 * 1024 });
    const e = await rejection(s.call());
    expect(e).toBeInstanceOf(ResponseTooLargeError);
    expect(e).toMatchObject({ name: 'ResponseTooLargeError', limitBytes: 64 * 1024, method: 'GET', path: P });
    expect(e.message).toContain('larger than 65536 bytes (maxResponseBytes)');
    expect(await streamed!.closedEarly).toBe(true);
    expect(streamed!.finished).toBe(false);
    // What the kernel's socket buffers took before the close: a few MiB at most, never the GiB.
    expect(streamed!.written).toBeLessThan(32 * MiB);
    expect(sent()).toHaveLength(1); // not retried: the same body would come again
  });

  it('applies with the default too (64 MiB), and to /sync', async () => {
    const TOTAL = 256 * MiB;
    const outcomes: StreamOutcome[] = [];
    const { s } = await stub((_q, res) => outcomes.push(streamBody(res, TOTAL)));
    const e = await rejection(s.sync.once());
    expect(e).toBeInstanceOf(ResponseTooLargeError);
    expect((e as ResponseTooLargeError).limitBytes).toBe(64 * MiB);
    expect((e as ResponseTooLargeError).path).toBe('/_matrix/client/v3/sync');
    expect(await outcomes[0].closedEarly).toBe(true);
    expect(outcomes[0].written).toBeLessThan(TOTAL / 2);
  });

  it('a body exactly at the cap is read; one byte more is not', async () => {
    const { s } = await stub((_q, res, i) => void streamBody(res, 4096 + i), { maxResponseBytes: 4096 });
    await expect(s.call()).resolves.toHaveProperty('x');
    expect(await rejection(s.call())).toBeInstanceOf(ResponseTooLargeError);
  });

  it('a request spec can set its own limit, higher or lower than the session one', async () => {
    const { s } = await stub((_q, res) => void streamBody(res, 8192), { maxResponseBytes: 4096 });
    await expect(s.call({ maxResponseBytes: 16_384 })).resolves.toHaveProperty('x');
    expect(await rejection(s.call())).toMatchObject({ name: 'ResponseTooLargeError', limitBytes: 4096 });
    expect(await rejection(s.call({ maxResponseBytes: 1000 }))).toMatchObject({ name: 'ResponseTooLargeError', limitBytes: 1000 });
  });

  it('an error body larger than the cap is refused the same way', async () => {
    const { s } = await stub((_q, res) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'M_UNKNOWN', error: 'x'.repeat(10_000) }));
    }, { maxResponseBytes: 1024 });
    expect(await rejection(s.call())).toBeInstanceOf(ResponseTooLargeError);
  });
});

describe('a body cut short (Content-Length longer than what was sent, then the connection closed)', () => {
  const cut = (res: ServerResponse) => truncatedReply(res, '{"user_id":"@a:hs.test","dev');

  it('a safe request is retried as a transient failure, and succeeds when a full reply comes', async () => {
    const { s, sent } = await stub((_q, res, i) => (i < 2 ? cut(res) : res.end('{"ok":true}')));
    await expect(s.call()).resolves.toEqual({ ok: true });
    expect(sent()).toEqual([`-> GET ${P}`, `-> GET ${P} (retry 1)`, `-> GET ${P} (retry 2)`]);
  });

  it('beyond maxRetries: a ConnectionError ERR_RESPONSE_TRUNCATED that may have reached the server (not an InvalidResponseError)', async () => {
    const { s, sent } = await stub((_q, res) => cut(res));
    const e = await rejection(s.call({}, { maxRetries: 2 }));
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e).toMatchObject({ code: 'ERR_RESPONSE_TRUNCATED', mayHaveReachedServer: true });
    expect(sent()).toHaveLength(3);
  });

  it('a chunked body that ends before its last chunk counts the same', async () => {
    const { s } = await stub((_q, res) => {
      res.socket!.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n');
      res.socket!.end();
    });
    expect(await rejection(s.call({}, { maxRetries: 0 }))).toMatchObject({ name: 'ConnectionError', code: 'ERR_RESPONSE_TRUNCATED' });
  });

  it('a PUT with a transaction ID is retried; an unsafe POST is not (the server acted on it)', async () => {
    const put = '/_matrix/client/v3/rooms/!r%3Ahs.test/send/m.room.message/t1';
    const { s, server } = await stub((q, res, i) => (q.method === 'PUT' && i === 0 ? cut(res) : q.method === 'PUT' ? res.end('{"event_id":"$e"}') : cut(res)));
    await expect(s.call({ method: 'PUT', path: put, body: { body: 'hi' }, idempotency: 'safe' })).resolves.toEqual({ event_id: '$e' });
    expect(await rejection(s.call({ method: 'POST', body: {} }))).toMatchObject({ code: 'ERR_RESPONSE_TRUNCATED' });
    expect(server.seen).toEqual([`PUT ${put}`, `PUT ${put}`, `POST ${P}`]);
  });
});

describe('a reply that never comes (timeout)', () => {
  const silent = () => undefined; // read the request, never answer

  it('a safe GET is retried like a connection failure, then answered', async () => {
    const { s, server } = await stub((_q, res, i) => (i === 0 ? silent() : res.end('{"ok":1}')), { timeoutMs: 50 });
    await expect(s.call()).resolves.toEqual({ ok: 1 });
    expect(server.seen).toHaveLength(2);
  });

  it('an unsafe POST is not repeated', async () => {
    const { s, server } = await stub(silent, { timeoutMs: 30 });
    expect(await rejection(s.call({ method: 'POST', body: {} }))).toBeInstanceOf(TimeoutError);
    expect(server.seen).toEqual([`POST ${P}`]);
  });

  it('the sync loop\'s maxRetries: 0 still means one attempt', async () => {
    const { s, server } = await stub(silent, { timeoutMs: 30 });
    expect(await rejection(s.call({}, { maxRetries: 0 }))).toMatchObject({ name: 'TimeoutError', timeoutMs: 30 });
    expect(server.seen).toHaveLength(1);
  });
});
