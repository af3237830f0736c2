import { createServer, type Server } from 'node:net';
import nock from 'nock';
import {
  AbortError,
  ConnectionError,
  InvalidResponseError,
  MatrixError,
  MatrixSession,
  MatrixSessionError,
  NotLoggedInError,
  TimeoutError,
  ValidationError,
  type SessionOptions,
} from '../../lib';
import type { RequestOptions, RequestSpec } from '../../lib/core/request';
import { failTransport, rejection, useTransportFaults } from '../helpers/transport-faults';

const BASE = 'http://hs.test';
const P = '/_matrix/client/v3/thing';

class TestSession extends MatrixSession {
  call<T = Record<string, unknown>>(spec: Partial<RequestSpec> = {}, options?: RequestOptions): Promise<T> {
    return this.core.request<T>({ method: 'GET', path: P, ...spec }, options);
  }
}

function session(options: Partial<SessionOptions> = {}): TestSession {
  return new TestSession({ baseUrl: BASE, accessToken: 'tok', userId: '@me:hs.test', backoffBaseMs: 1, backoffMaxMs: 2, ...options });
}

useTransportFaults();

describe('MatrixError from an error response', () => {
  it('carries httpStatus, errcode, error, body, method and path', async () => {
    const body = { errcode: 'M_FORBIDDEN', error: 'You are not invited', extra: [1] };
    nock(BASE).get(P).reply(403, body);
    const e = (await rejection(session().call())) as MatrixError;
    expect(e).toBeInstanceOf(MatrixError);
    expect(e).toBeInstanceOf(MatrixSessionError);
    expect(e).toMatchObject({ name: 'MatrixError', httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'You are not invited', method: 'GET', path: P });
    expect(e.body).toEqual(body);
    expect(e.softLogout).toBe(false);
    expect(e.retryAfterMs).toBeUndefined();
    expect(e.isUserInteractiveAuth).toBe(false);
    expect(e.message).toBe(`M_FORBIDDEN (403) on GET ${P}: You are not invited`);
  });

  it('reads soft_logout from a 401', async () => {
    nock(BASE).get(P).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'expired', soft_logout: true });
    const e = (await rejection(session().call())) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN', softLogout: true });
  });

  it('reads retryAfterMs from a 429 that is not retried', async () => {
    nock(BASE).get(P).reply(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 1234 });
    const e = (await rejection(session().call({}, { maxRetries: 0 }))) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 429, errcode: 'M_LIMIT_EXCEEDED', retryAfterMs: 1234 });
  });

  it('recognises a user-interactive-auth challenge', async () => {
    nock(BASE).post(P).reply(401, { flows: [{ stages: ['m.login.dummy'] }], session: 'abc' });
    const e = (await rejection(session().call({ method: 'POST', body: {} }))) as MatrixError;
    expect(e.isUserInteractiveAuth).toBe(true);
    expect(e.errcode).toBe('M_UNKNOWN');
  });

  it('maps an HTML 502 page to MatrixError M_UNKNOWN with the status (after the retries of a GET)', async () => {
    nock(BASE).get(P).times(2).reply(502, '<html><body><h1>502 Bad Gateway</h1></body></html>', { 'Content-Type': 'text/html' });
    const e = (await rejection(session().call({}, { maxRetries: 1 }))) as MatrixError;
    expect(e).toBeInstanceOf(MatrixError);
    expect(e).toMatchObject({ httpStatus: 502, errcode: 'M_UNKNOWN' });
    expect(e.error).toMatch(/Non-JSON error response \(HTTP 502\)/);
  });

  it.each([
    ['an empty body', ''],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"oops"'],
    ['truncated JSON', '{"errcode":"M_FORB'],
  ])('maps %s on a 400 to M_UNKNOWN with the status', async (_what, raw) => {
    nock(BASE).get(P).reply(400, raw);
    const e = (await rejection(session().call())) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 400, errcode: 'M_UNKNOWN' });
  });

  it('falls back to "HTTP <status>" when the body has an errcode but no error text', async () => {
    nock(BASE).get(P).reply(404, { errcode: 'M_NOT_FOUND' });
    const e = (await rejection(session().call())) as MatrixError;
    expect(e).toMatchObject({ errcode: 'M_NOT_FOUND', error: 'HTTP 404' });
  });

  it('maps a redirect that the endpoint does not follow to a MatrixError', async () => {
    nock(BASE).get(P).reply(302, '', { Location: 'http://elsewhere.test/' });
    const e = (await rejection(session().call())) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 302, errcode: 'M_UNKNOWN' });
  });
});

describe('InvalidResponseError from a 2xx that is not what the spec says', () => {
  it.each([
    ['truncated JSON', '{"user_id": "@a:hs", "dev'],
    ['HTML', '<html>hello</html>'],
    ['a bare JSON number', '42'],
    ['JSON null', 'null'],
  ])('%s', async (_what, raw) => {
    nock(BASE).get(P).reply(200, raw);
    const e = (await rejection(session().call())) as InvalidResponseError;
    expect(e).toBeInstanceOf(InvalidResponseError);
    expect(e).toMatchObject({ name: 'InvalidResponseError', httpStatus: 200 });
    expect(e.message).toContain(`GET ${P}`);
  });

  it('a required field that is missing or null', async () => {
    nock(BASE).get(P).reply(200, { other: 1 });
    const missing = await rejection(session().call({ required: ['user_id'] }));
    expect(missing).toBeInstanceOf(InvalidResponseError);
    expect(missing.message).toContain('"user_id"');
    nock(BASE).get(P).reply(200, { user_id: null });
    expect(await rejection(session().call({ required: ['user_id'] }))).toBeInstanceOf(InvalidResponseError);
  });

  it('is not retried, even for a GET (the server answered; asking again gives the same)', async () => {
    nock(BASE).get(P).once().reply(200, '{"a":');
    expect(await rejection(session().call())).toBeInstanceOf(InvalidResponseError);
  });

  it('an empty 200 is an empty object (fine unless fields are required)', async () => {
    nock(BASE).get(P).reply(200, '');
    await expect(session().call()).resolves.toEqual({});
    nock(BASE).get(P).reply(200, '');
    expect(await rejection(session().call({ required: ['x'] }))).toBeInstanceOf(InvalidResponseError);
  });
});

describe('ConnectionError, TimeoutError, AbortError, NotLoggedInError', () => {
  let closedPort: number;
  let server: Server;
  beforeAll(async () => {
    // A port that certainly refuses: bound, then closed.
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closedPort = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    nock.enableNetConnect('127.0.0.1');
  });
  afterAll(() => nock.disableNetConnect());

  it('ECONNREFUSED (a real refused port) → ConnectionError, mayHaveReachedServer=false, retried then thrown', async () => {
    const logs: string[] = [];
    const s = session({ baseUrl: `http://127.0.0.1:${closedPort}`, logger: (l) => logs.push(l), maxRetries: 2 });
    const e = (await rejection(s.call({ method: 'POST', body: {} }))) as ConnectionError;
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e).toMatchObject({ name: 'ConnectionError', code: 'ECONNREFUSED', mayHaveReachedServer: false });
    // Even an unsafe POST is repeated when it never reached the server.
    expect(logs.filter((l) => l.startsWith('->'))).toHaveLength(3);
  });

  it('a real connection reset after the request was read → ConnectionError ECONNRESET, mayHaveReachedServer=true', async () => {
    let requests = 0;
    const resetter = createServer((socket) => {
      socket.once('data', () => {
        requests++;
        socket.resetAndDestroy();
      });
    });
    await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
    try {
      const s = session({ baseUrl: `http://127.0.0.1:${(resetter.address() as { port: number }).port}` });
      const e = (await rejection(s.call({ method: 'POST', body: {} }))) as ConnectionError;
      expect(e).toBeInstanceOf(ConnectionError);
      expect(e).toMatchObject({ code: 'ECONNRESET', mayHaveReachedServer: true });
      expect(requests).toBe(1); // unsafe: not repeated
    } finally {
      await new Promise<void>((r) => resetter.close(() => r()));
    }
  });

  it('ECONNRESET → ConnectionError with mayHaveReachedServer=true', async () => {
    failTransport('POST', P, 'ECONNRESET');
    const e = (await rejection(session().call({ method: 'POST', body: {} }))) as ConnectionError;
    expect(e).toMatchObject({ code: 'ECONNRESET', mayHaveReachedServer: true });
  });

  it('an error without a code → ConnectionError UNKNOWN', async () => {
    failTransport('POST', P, 'NONE');
    const e = (await rejection(session().call({ method: 'POST', body: {} }))) as ConnectionError;
    expect(e).toMatchObject({ code: 'UNKNOWN', mayHaveReachedServer: true });
  });

  it('no answer within timeoutMs → TimeoutError naming the timeout (per request, then per session)', async () => {
    nock(BASE).get(P).delay(500).reply(200, {});
    const e = (await rejection(session().call({}, { timeoutMs: 20, maxRetries: 0 }))) as TimeoutError;
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e).toMatchObject({ name: 'TimeoutError', timeoutMs: 20 });
    nock(BASE).get(P).delay(500).reply(200, {});
    expect(await rejection(session({ timeoutMs: 15, maxRetries: 0 }).call())).toMatchObject({ name: 'TimeoutError', timeoutMs: 15 });
  });

  it('a caller abort → AbortError, before or during the request', async () => {
    const pre = new AbortController();
    pre.abort();
    expect(await rejection(session().call({}, { signal: pre.signal }))).toBeInstanceOf(AbortError);

    nock(BASE).get(P).delay(1000).reply(200, {});
    const c = new AbortController();
    const p = session().call({}, { signal: c.signal });
    setTimeout(() => c.abort(), 10);
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect(e.message).toBe(`Request aborted: GET ${P}`);
  });

  it('NotLoggedInError before any request when the endpoint needs a token', async () => {
    const s = session({ accessToken: undefined });
    const e = await rejection(s.call());
    expect(e).toBeInstanceOf(NotLoggedInError);
    expect(e.message).toBe(`GET ${P} needs a logged-in session`);
    // nock has no interceptor: had a request left, it would have failed with a ConnectionError instead.
  });
});

describe('the error classes themselves', () => {
  it('ValidationError names the parameter and the rule', () => {
    const e = new ValidationError('roomId', 'must be a room ID');
    expect(e).toMatchObject({ name: 'ValidationError', parameter: 'roomId', rule: 'must be a room ID', message: 'Invalid roomId: must be a room ID' });
  });

  it('toJSON gives name, message and the own fields, and no stack', () => {
    const e = new ConnectionError({ method: 'GET', path: '/x' }, 'ECONNRESET', true);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      name: 'ConnectionError',
      message: 'Connection failed (ECONNRESET) on GET /x',
      code: 'ECONNRESET',
      mayHaveReachedServer: true,
    });
  });

  it('AbortError and NotLoggedInError without a target', () => {
    expect(new AbortError().message).toBe('Aborted');
    expect(new NotLoggedInError('This call').message).toBe('This call needs a logged-in session');
  });

  it('every class is a MatrixSessionError and an Error', () => {
    const t = { method: 'GET', path: '/x' };
    for (const e of [
      new MatrixError(t, 500, {}),
      new ValidationError('a', 'b'),
      new InvalidResponseError(t, 200, 'r'),
      new ConnectionError(t, 'X', true),
      new TimeoutError(t, 1),
      new AbortError(t),
      new NotLoggedInError(t),
    ]) {
      expect(e).toBeInstanceOf(MatrixSessionError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(e.constructor.name);
    }
  });
});
