import { createServer, type Server } from 'node:net';
import { inspect } from 'node:util';
import nock from 'nock';
import {
  AbortError,
  Auth,
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

// A server that echoes what it was sent: every secret the session held or sent must come out
// as [redacted], on every surface an error has.
describe('secrets echoed back by the server', () => {
  const ACCESS = 'syt_EchoedAccessToken_91c2f0';
  const REFRESH = 'syr_EchoedRefreshToken_5d8e1a';
  const PASSWORD = 'correct-horse-battery-staple-42';
  const NEW_PASSWORD = 'the-new-password-nobody-knows';
  const SHORT = 'pw7'; // short passwords are redacted where they stand apart
  const LOGIN_TOKEN = 'login-token-8c1d99e0b7';
  const ALL = [ACCESS, REFRESH, PASSWORD, NEW_PASSWORD, SHORT, LOGIN_TOKEN];

  /** An error body echoing `secret` in the error text, nested deep in the body, and as a key. */
  const echo = (secret: string, extra: Record<string, unknown> = {}) => ({
    errcode: 'M_FORBIDDEN',
    error: `You sent ${secret}; that is not allowed (${secret})`,
    request: { headers: { authorization: `Bearer ${secret}` }, body: [{ deep: { er: `=${secret}&` } }] },
    [secret]: 'as a key',
    ...extra,
  });

  function surfaces(e: Error): Record<string, string> {
    const m = e as MatrixError;
    return {
      message: e.message,
      error: String(m.error),
      body: JSON.stringify(m.body),
      stack: String(e.stack),
      json: JSON.stringify(e),
      inspect: inspect(e, { depth: Infinity, showHidden: true }),
      string: String(e),
    };
  }

  function expectRedacted(e: Error, ...secrets: string[]): void {
    expect(e).toBeInstanceOf(MatrixError);
    for (const [where, text] of Object.entries(surfaces(e))) {
      for (const secret of ALL) {
        if (text.includes(secret)) throw new Error(`${where} holds the secret ${secret}: ${text.slice(0, 300)}`);
      }
    }
    const m = e as MatrixError;
    expect(m.message).toContain('[redacted]');
    expect(m.error).toBe('You sent [redacted]; that is not allowed ([redacted])');
    expect(m.body).toMatchObject({ request: { headers: { authorization: 'Bearer [redacted]' }, body: [{ deep: { er: '=[redacted]&' } }] } });
    expect(m.body['[redacted]']).toBe('as a key');
    expect(secrets.length).toBeGreaterThan(0);
  }

  const logged = (options: Partial<SessionOptions> = {}) => session({ accessToken: ACCESS, refreshToken: REFRESH, ...options });

  it('the access token, echoed on any request', async () => {
    nock(BASE).get(P).reply(403, echo(ACCESS));
    expectRedacted(await rejection(logged().call()), ACCESS);
  });

  it('the refresh token, echoed by a failing /refresh (and the sessionExpired payload of a refused one)', async () => {
    nock(BASE).get(P).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'expired', soft_logout: true });
    nock(BASE).post('/_matrix/client/v3/refresh').reply(400, echo(REFRESH));
    const s = logged();
    expectRedacted(await rejection(s.call()), REFRESH);

    nock(BASE).get(P).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'expired', soft_logout: true });
    nock(BASE).post('/_matrix/client/v3/refresh').reply(401, echo(REFRESH, { errcode: 'M_UNKNOWN_TOKEN' }));
    const expired: Error[] = [];
    s.on('sessionExpired', (info) => expired.push(info.error));
    const e = await rejection(s.call());
    expect(e).toMatchObject({ httpStatus: 401 });
    for (const text of Object.values(surfaces(e))) expect(text).not.toContain(REFRESH);
    expect(expired).toHaveLength(1);
    expect(inspect(expired[0], { depth: Infinity })).not.toContain(REFRESH);
    expect(s.isLoggedIn).toBe(false); // the tokens are gone from the session, and still redacted
  });

  it('a password given to login (Auth.password), and a login token', async () => {
    nock(BASE).post('/_matrix/client/v3/login').reply(403, echo(PASSWORD));
    expectRedacted(await rejection(session({ accessToken: undefined }).account.loginWithPassword('alice', PASSWORD)), PASSWORD);
    nock(BASE).post('/_matrix/client/v3/login').reply(403, echo(LOGIN_TOKEN));
    expectRedacted(await rejection(session({ accessToken: undefined }).account.login(Auth.token(LOGIN_TOKEN))), LOGIN_TOKEN);
  });

  it('a short password, where it stands apart from other letters', async () => {
    nock(BASE).post('/_matrix/client/v3/login').reply(403, echo(SHORT));
    const e = (await rejection(session({ accessToken: undefined }).account.loginWithPassword('alice', SHORT))) as MatrixError;
    expectRedacted(e, SHORT);
  });

  it('the password of register', async () => {
    nock(BASE).post('/_matrix/client/v3/register').reply(400, echo(PASSWORD, { errcode: 'M_WEAK_PASSWORD' }));
    expectRedacted(await rejection(session({ accessToken: undefined }).account.register({ username: 'alice', password: PASSWORD })), PASSWORD);
  });

  it('changePassword: the new password and the UIA password stage, after a UIA round', async () => {
    const challenge = { session: 'S1', flows: [{ stages: ['m.login.password'] }], params: {} };
    nock(BASE).post('/_matrix/client/v3/account/password').reply(401, challenge);
    nock(BASE)
      .post('/_matrix/client/v3/account/password')
      .reply(401, { ...challenge, ...echo(`${NEW_PASSWORD} / ${PASSWORD}`) });
    const e = await rejection(logged().account.changePassword(NEW_PASSWORD, { 'm.login.password': Auth.password('@me:hs.test', PASSWORD) }));
    for (const text of Object.values(surfaces(e))) {
      expect(text).not.toContain(NEW_PASSWORD);
      expect(text).not.toContain(PASSWORD);
    }
    expect((e as MatrixError).error).toBe('You sent [redacted] / [redacted]; that is not allowed ([redacted] / [redacted])');
  });

  it('deactivate and threepid.add: the password of the UIA stage', async () => {
    nock(BASE).post('/_matrix/client/v3/account/deactivate').reply(401, echo(PASSWORD, { flows: [{ stages: ['m.login.password'] }] }));
    expectRedacted(await rejection(logged().account.deactivate({ auth: Auth.password('@me:hs.test', PASSWORD) })), PASSWORD);
    nock(BASE).post('/_matrix/client/v3/account/3pid/add').reply(401, echo(PASSWORD, { flows: [{ stages: ['m.login.password'] }] }));
    expectRedacted(await rejection(logged().threepid.add('secret1', 'sid1', Auth.password('@me:hs.test', PASSWORD))), PASSWORD);
  });

  it('UIA still works with a short password: stage names and session IDs are not mangled', async () => {
    const challenge = { session: 'Xo9oZ', flows: [{ stages: ['m.login.password'] }], params: {} };
    nock(BASE).post('/_matrix/client/v3/account/deactivate').reply(401, challenge);
    nock(BASE)
      .post('/_matrix/client/v3/account/deactivate', (b) => b.auth?.session === 'Xo9oZ' && b.auth?.password === 'o')
      .reply(200, { id_server_unbind_result: 'success' });
    await expect(logged().account.deactivate({ auth: { 'm.login.password': Auth.password('@me:hs.test', 'o') } })).resolves.toEqual({
      id_server_unbind_result: 'success',
    });
  });
});

// Error bodies no real server sends: they must neither break serialisation nor hang a print.
describe('hostile error bodies', () => {
  it('a body nested 200 000 deep: JSON.stringify(err) does not throw and keeps a bounded copy; util.inspect returns', async () => {
    const N = 200_000;
    nock(BASE).get(P).reply(400, `{"errcode":"M_BAD_JSON","error":"deep","a":${'{"a":'.repeat(N)}1${'}'.repeat(N)}}`, {
      'Content-Type': 'application/json',
    });
    const e = (await rejection(session().call())) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 400, errcode: 'M_BAD_JSON', error: 'deep' });
    const json = JSON.stringify(e);
    expect(json.length).toBeLessThan(10_000);
    let depth = 0;
    for (let v: unknown = (JSON.parse(json) as { body: unknown }).body; typeof v === 'object' && v !== null; v = (v as { a: unknown }).a) depth++;
    expect(depth).toBeLessThanOrEqual(33);
    expect(json).toContain('[truncated: nested too deep]');
    expect(inspect(e, { depth: Infinity }).length).toBeLessThan(20_000);
  });

  it('an array nested 200 000 deep, likewise', async () => {
    const N = 200_000;
    nock(BASE).get(P).reply(400, `{"errcode":"M_X","list":${'['.repeat(N)}${']'.repeat(N)}}`, { 'Content-Type': 'application/json' });
    const e = (await rejection(session().call())) as MatrixError;
    expect(() => JSON.stringify(e)).not.toThrow();
    expect(inspect(e, { depth: Infinity }).length).toBeLessThan(20_000);
  });

  it('a 50 MB error string: clipped in the message and .error (with a marker), the body copy bounded', async () => {
    const huge = 'E'.repeat(50 * 1024 * 1024);
    nock(BASE).get(P).reply(400, `{"errcode":"M_UNKNOWN","error":"${huge}"}`, { 'Content-Type': 'application/json' });
    const e = (await rejection(session().call())) as MatrixError;
    expect(e.error.length).toBeLessThan(4200);
    expect(e.error).toMatch(/^E{4096}… \[truncated, 52428800 characters\]$/);
    expect(e.message.length).toBeLessThan(4400);
    expect(String(e.stack).length).toBeLessThan(10_000);
    expect(JSON.stringify(e).length).toBeLessThan(32 * 1024);
    expect(String(e.body.error)).toContain('[truncated, 52428800 characters]');
    expect(inspect(e).length).toBeLessThan(40_000);
  });

  it('a body with a million fields is cut to a budget, with a marker', async () => {
    const fields = Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":${i}`).join(',');
    nock(BASE).get(P).reply(400, `{"errcode":"M_X",${fields}}`, { 'Content-Type': 'application/json' });
    const e = (await rejection(session().call())) as MatrixError;
    expect(JSON.stringify(e.body).length).toBeLessThan(200 * 1024);
    expect(e.body['[truncated]']).toMatch(/^\d+ more fields$/);
  });

  it('a "__proto__" field stays a plain field of the copy and sets no prototype', async () => {
    nock(BASE).get(P).reply(400, '{"errcode":"M_X","__proto__":{"polluted":true}}', { 'Content-Type': 'application/json' });
    const e = (await rejection(session().call())) as MatrixError;
    expect(Object.getPrototypeOf(e.body)).toBe(Object.prototype);
    expect((e.body as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(e.body, '__proto__')).toBe(true);
  });

  it('a MatrixError made by hand keeps a bounded copy too, and its JSON form never throws', () => {
    const cyclic: Record<string, unknown> = { errcode: 'M_X', n: 10n };
    cyclic.self = cyclic;
    const e = new MatrixError({ method: 'GET', path: '/x' }, 400, cyclic);
    expect(() => JSON.stringify(e)).not.toThrow();
    expect(e.body.n).toBe('10');
  });
});
