import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { inspect } from 'node:util';
import nock from 'nock';
import {
  AbortError,
  ConnectionError,
  MatrixError,
  MatrixSession,
  MatrixSessionError,
  NotLoggedInError,
  TimeoutError,
  ValidationError,
  type SessionEvents,
  type SessionOptions,
} from '../../lib';
import type { RequestOptions, RequestSpec } from '../../lib/core/request';
import { failTransport, rejection, useTransportFaults } from '../helpers/transport-faults';

const PROJECT_ROOT = resolve(__dirname, '..', '..');
const BASE = 'http://hs.test';
const P = '/_matrix/client/v3/thing';
const REFRESH = '/_matrix/client/v3/refresh';
// Distinctive values, so a leak anywhere is found by a plain substring search.
const ACCESS = 'syt_AccessSecret_4f9a2c';
const REFRESHTOK = 'syr_RefreshSecret_77d1e0';
const NEW_ACCESS = 'syt_NewAccessSecret_b31c';
const NEW_REFRESH = 'syr_NewRefreshSecret_0a9e';
const SECRETS = [ACCESS, REFRESHTOK, NEW_ACCESS, NEW_REFRESH];
const EXPIRED = { errcode: 'M_UNKNOWN_TOKEN', error: 'Access token has expired', soft_logout: true };

class TestSession extends MatrixSession {
  get raw() {
    return this.core;
  }
  call<T = Record<string, unknown>>(spec: Partial<RequestSpec> = {}, options?: RequestOptions): Promise<T> {
    return this.core.request<T>({ method: 'GET', path: P, ...spec }, options);
  }
}

const RECORDED = ['login', 'register', 'logout', 'tokenChanged', 'sessionExpired', 'rateLimited', 'listenerError'] as const;
type Recorded = { [K in (typeof RECORDED)[number]]: SessionEvents[K][0][] };

function session(options: Partial<SessionOptions> = {}) {
  const logs: string[] = [];
  const s = new TestSession({
    baseUrl: BASE,
    accessToken: ACCESS,
    userId: '@me:hs.test',
    deviceId: 'DEV',
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    logger: (l) => logs.push(l),
    ...options,
  });
  const events: Recorded = { login: [], register: [], logout: [], tokenChanged: [], sessionExpired: [], rateLimited: [], listenerError: [] };
  for (const name of RECORDED) {
    s.on(name, (info: unknown) => (events[name] as unknown[]).push(info));
  }
  return { s, logs, events, sent: () => logs.filter((l) => l.startsWith('->')) };
}

useTransportFaults();

function expectNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) {
    if (text.includes(secret)) throw new Error(`${where} contains a token: ${text}`);
  }
}

describe('Authorization header', () => {
  it('is sent with `auth: required` (the default)', async () => {
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${ACCESS}`).reply(200, {});
    await session().s.call();
  });

  it('is never sent with `auth: none`, even when a token is held', async () => {
    nock(BASE, { badheaders: ['authorization'] }).get(P).reply(200, {});
    await session().s.call({ auth: 'none' });
  });

  it('`auth: optional` sends it when held and goes without when not', async () => {
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${ACCESS}`).reply(200, {});
    await session().s.call({ auth: 'optional' });
    nock(BASE, { badheaders: ['authorization'] }).get(P).reply(200, {});
    await session({ accessToken: undefined }).s.call({ auth: 'optional' });
  });

  it('`auth: required` without a token throws NotLoggedInError and sends nothing', async () => {
    const { s, sent } = session({ accessToken: undefined });
    expect(await rejection(s.call())).toBeInstanceOf(NotLoggedInError);
    expect(await rejection(s.call({ method: 'POST', body: {} }))).toBeInstanceOf(NotLoggedInError);
    expect(sent()).toEqual([]);
  });

  it('sends JSON with a Content-Type only when there is a body, and asks for JSON without compression', async () => {
    nock(BASE)
      .matchHeader('accept', 'application/json')
      .matchHeader('accept-encoding', 'identity')
      .post(P, (b) => b.a === 'ü' && b.n === 1)
      .matchHeader('content-type', 'application/json')
      .reply(200, {});
    await session().s.call({ method: 'POST', body: { a: 'ü', n: 1 } });
    nock(BASE, { badheaders: ['content-type'] }).get(P).reply(200, {});
    await session().s.call();
  });

  it('extra headers of the spec are sent', async () => {
    nock(BASE).get(P).matchHeader('accept-language', 'de').reply(200, {});
    await session().s.call({ headers: { 'Accept-Language': 'de' } });
  });

  it('spec.baseUrl sends to another origin', async () => {
    nock('http://other.test').get(P).reply(200, { elsewhere: true });
    await expect(session().s.call({ baseUrl: 'http://other.test', auth: 'none' })).resolves.toEqual({ elsewhere: true });
  });
});

// The core keeps per-token header objects and the AbortControllers of finished requests for
// the next requests: nothing of one request may show in the next.
describe('what one request leaves for the next', () => {
  it('the headers follow the token held, with and without a body, one session throughout', async () => {
    const { s } = session();
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${ACCESS}`).reply(200, {});
    nock(BASE).put(P).matchHeader('authorization', `Bearer ${ACCESS}`).matchHeader('content-type', 'application/json').reply(200, {});
    await s.call();
    await s.call({ method: 'PUT', body: { a: 1 } });
    s.setCredentials({ accessToken: NEW_ACCESS });
    nock(BASE).put(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).matchHeader('content-type', 'application/json').reply(200, {});
    nock(BASE, { badheaders: ['content-type'] }).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, {});
    await s.call({ method: 'PUT', body: { a: 1 } });
    await s.call();
    nock(BASE, { badheaders: ['authorization'] }).post(P).matchHeader('content-type', 'application/json').reply(200, {});
    nock(BASE, { badheaders: ['authorization', 'content-type'] }).get(P).reply(200, {});
    await s.call({ method: 'POST', body: {}, auth: 'none' });
    await s.call({ auth: 'none' });
    // The endpoint's own headers come with the token and the content type, and stay its own.
    nock(BASE)
      .post(P)
      .matchHeader('accept-language', 'de')
      .matchHeader('authorization', `Bearer ${NEW_ACCESS}`)
      .matchHeader('content-type', 'application/json')
      .reply(200, {});
    nock(BASE, { badheaders: ['accept-language'] }).get(P).reply(200, {});
    await s.call({ method: 'POST', body: {}, headers: { 'Accept-Language': 'de' } });
    await s.call();
  });

  it('after requests that succeeded, a request is still ended by its signal, its timeout and close(); the next one is unaffected', async () => {
    const { s } = session();
    nock(BASE).get(P).times(3).reply(200, { ok: 1 });
    for (let i = 0; i < 3; i++) await s.call();

    nock(BASE).get('/signal').delay(2000).reply(200, {});
    const c = new AbortController();
    const bySignal = s.call({ path: '/signal' }, { signal: c.signal });
    setTimeout(() => c.abort(), 10);
    expect(await rejection(bySignal)).toBeInstanceOf(AbortError);

    nock(BASE).get(P).reply(200, { ok: 2 });
    await expect(s.call()).resolves.toEqual({ ok: 2 });

    nock(BASE).get('/slow').delay(2000).reply(200, {});
    expect(await rejection(s.call({ path: '/slow' }, { timeoutMs: 10, maxRetries: 0 }))).toBeInstanceOf(TimeoutError);

    // 20 at once, then one more: neither an aborted nor a busy controller is handed out again.
    nock(BASE).get(P).times(21).reply(200, { ok: 3 });
    await expect(Promise.all(Array.from({ length: 20 }, () => s.call()))).resolves.toHaveLength(20);
    await expect(s.call()).resolves.toEqual({ ok: 3 });
    // A signal that aborts after its request finished does not reach a later request.
    nock(BASE).get(P).reply(200, { ok: 4 });
    const late = new AbortController();
    nock(BASE).get('/later').delay(30).reply(200, { ok: 5 });
    await s.call({}, { signal: late.signal });
    const later = s.call({ path: '/later' });
    late.abort();
    await expect(later).resolves.toEqual({ ok: 5 });

    nock(BASE).get('/closing').delay(2000).reply(200, {});
    const byClose = s.call({ path: '/closing' });
    setTimeout(() => void s.close(), 10);
    expect(await rejection(byClose)).toBeInstanceOf(AbortError);
    nock.abortPendingRequests();
  });
});

describe('connections', () => {
  it('are kept alive: sequential requests of every kind share one connection', () => {
    // nock's interception replaces the agent's sockets in this process: use a child without it.
    const script = `
      const { createServer } = require('node:http');
      const { MatrixSession } = require('./lib');
      let connections = 0;
      const srv = createServer((q, r) => {
        q.resume();
        q.on('end', () => {
          // The room is not encrypted (the send asks once): a 404, which keeps the connection too.
          if (q.url.includes('/state/m.room.encryption')) return r.writeHead(404).end('{"errcode":"M_NOT_FOUND"}');
          r.end('{"versions":[],"user_id":"@a:b","event_id":"$e"}');
        });
      });
      srv.on('connection', () => connections++);
      srv.listen(0, '127.0.0.1', async () => {
        const s = new MatrixSession({ baseUrl: 'http://127.0.0.1:' + srv.address().port, accessToken: 't' });
        for (let i = 0; i < 3; i++) {
          await s.server.versions();
          await s.account.whoami();
          await s.rooms.sendText('!r:b', 'hi');
        }
        await s.close();
        srv.closeAllConnections();
        srv.close();
        console.log('connections ' + connections);
      });`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register', '-e', script], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('connections 1');
  });
});

describe('token refresh', () => {
  function refreshReply(delayMs = 0) {
    return nock(BASE, { badheaders: ['authorization'] })
      .post(REFRESH, { refresh_token: REFRESHTOK })
      .delay(delayMs)
      .reply(200, { access_token: NEW_ACCESS, refresh_token: NEW_REFRESH, expires_in_ms: 300_000 });
  }

  it('N concurrent 401 M_UNKNOWN_TOKEN → exactly one POST /refresh; every request repeated with the new token; tokenChanged once', async () => {
    const N = 6;
    nock(BASE).get(P).times(N).matchHeader('authorization', `Bearer ${ACCESS}`).reply(401, EXPIRED);
    const refresh = refreshReply(50);
    nock(BASE).get(P).times(N).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { ok: true });
    const { s, events, logs } = session({ refreshToken: REFRESHTOK });
    const results = await Promise.all(Array.from({ length: N }, () => s.call()));
    expect(results).toEqual(Array(N).fill({ ok: true }));
    expect(refresh.isDone()).toBe(true);
    expect(logs.filter((l) => l === `-> POST ${REFRESH}`)).toHaveLength(1);
    expect(events.tokenChanged).toEqual([{ accessToken: NEW_ACCESS, refreshToken: NEW_REFRESH, expiresInMs: 300_000 }]);
    expect(events.sessionExpired).toEqual([]);
    expect(s.getAccessToken()).toBe(NEW_ACCESS);
    expect(s.getRefreshToken()).toBe(NEW_REFRESH);
  });

  it('a 401 that arrives after another request already refreshed is repeated with the new token, without a second refresh', async () => {
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${ACCESS}`).reply(401, EXPIRED);
    nock(BASE).get('/slow').matchHeader('authorization', `Bearer ${ACCESS}`).delay(150).reply(401, EXPIRED);
    refreshReply();
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { a: 1 });
    nock(BASE).get('/slow').matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { b: 2 });
    const { s, events, logs } = session({ refreshToken: REFRESHTOK });
    const [a, b] = await Promise.all([s.call(), s.call({ path: '/slow' })]);
    expect([a, b]).toEqual([{ a: 1 }, { b: 2 }]);
    expect(logs.filter((l) => l.includes(REFRESH) && l.startsWith('->'))).toHaveLength(1);
    expect(events.tokenChanged).toHaveLength(1);
  });

  it('keeps the old refresh token when the server sends none, and forgets the expiry when none is given', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).reply(200, { access_token: NEW_ACCESS });
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, {});
    const { s, events } = session({ refreshToken: REFRESHTOK });
    await s.call();
    expect(s.getRefreshToken()).toBe(REFRESHTOK);
    expect(s.raw.credentials.expiresAt).toBeUndefined();
    expect(events.tokenChanged).toEqual([{ accessToken: NEW_ACCESS, refreshToken: undefined, expiresInMs: undefined }]);
  });

  it('refresh refused (401) → sessionExpired once with softLogout, tokens dropped (IDs kept), every waiting request throws', async () => {
    nock(BASE).get(P).times(3).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).delay(30).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Refresh token revoked', soft_logout: true });
    const { s, events } = session({ refreshToken: REFRESHTOK });
    const errors = await Promise.all([rejection(s.call()), rejection(s.call()), rejection(s.call())]);
    for (const e of errors) expect(e).toMatchObject({ name: 'MatrixError', httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN', softLogout: true });
    expect(events.sessionExpired).toHaveLength(1);
    expect(events.sessionExpired[0].softLogout).toBe(true);
    expect(events.sessionExpired[0].error).toBeInstanceOf(MatrixError);
    expect(s.isLoggedIn).toBe(false);
    expect(s.getRefreshToken()).toBeUndefined();
    expect([s.userId, s.deviceId]).toEqual(['@me:hs.test', 'DEV']);
    expect(await rejection(s.call())).toBeInstanceOf(NotLoggedInError);
  });

  it('no refresh token → sessionExpired (once for N concurrent 401s) and the MatrixError is thrown', async () => {
    nock(BASE).get(P).times(4).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid token' });
    const { s, events, sent } = session();
    const errors = await Promise.all(Array.from({ length: 4 }, () => rejection(s.call())));
    for (const e of errors) expect(e).toMatchObject({ httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN', softLogout: false });
    expect(events.sessionExpired).toHaveLength(1);
    expect(events.sessionExpired[0]).toMatchObject({ softLogout: false });
    expect(sent().filter((l) => l.includes(REFRESH))).toEqual([]);
    expect(s.isLoggedIn).toBe(false);
  });

  it('a repeated request refused again after a successful refresh ends the session instead of looping', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    refreshReply();
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'no' });
    const { s, events } = session({ refreshToken: REFRESHTOK });
    expect(await rejection(s.call())).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    expect(events.tokenChanged).toHaveLength(1);
    expect(events.sessionExpired).toHaveLength(1);
  });

  it('a 429 on /refresh is waited out and retried like any 429', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).reply(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow', retry_after_ms: 5 });
    refreshReply();
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { ok: 1 });
    const { s, events } = session({ refreshToken: REFRESHTOK });
    await expect(s.call()).resolves.toEqual({ ok: 1 });
    expect(events.rateLimited).toEqual([{ method: 'POST', path: REFRESH, delayMs: 5, attempt: 1 }]);
  });

  it('a 429 on /refresh beyond the retries is thrown but does NOT end the session', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).times(4).reply(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow', retry_after_ms: 1 });
    const { s, events } = session({ refreshToken: REFRESHTOK });
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 429, path: REFRESH });
    expect(events.sessionExpired).toEqual([]);
    expect(s.getAccessToken()).toBe(ACCESS);
    expect(s.getRefreshToken()).toBe(REFRESHTOK);

    // The next call can still refresh and succeed.
    nock(BASE).get(P).reply(401, EXPIRED);
    refreshReply();
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { ok: 2 });
    await expect(s.call()).resolves.toEqual({ ok: 2 });
  });

  it('a network error on /refresh is retried (the old refresh token stays valid), and if it persists does NOT end the session', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    failTransport('POST', REFRESH, 'ECONNRESET');
    refreshReply();
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { ok: 1 });
    const first = session({ refreshToken: REFRESHTOK });
    await expect(first.s.call()).resolves.toEqual({ ok: 1 });

    nock(BASE).get(P).reply(401, EXPIRED);
    failTransport('POST', REFRESH, 'ECONNRESET', 4);
    const { s, events } = session({ refreshToken: REFRESHTOK });
    const e = await rejection(s.call());
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.message).toContain(`POST ${REFRESH}`);
    expect(events.sessionExpired).toEqual([]);
    expect(s.isLoggedIn).toBe(true);
  });

  it('a malformed /refresh reply is an InvalidResponseError and does not end the session', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).reply(200, { refresh_token: NEW_REFRESH });
    const { s, events } = session({ refreshToken: REFRESHTOK });
    expect(await rejection(s.call())).toMatchObject({ name: 'InvalidResponseError' });
    expect(events.sessionExpired).toEqual([]);
    expect(s.getAccessToken()).toBe(ACCESS);
  });

  it('one caller aborting does not cancel the shared refresh for the others', async () => {
    nock(BASE).get(P).times(2).reply(401, EXPIRED);
    refreshReply(80);
    nock(BASE).get(P).matchHeader('authorization', `Bearer ${NEW_ACCESS}`).reply(200, { ok: true });
    const { s, events } = session({ refreshToken: REFRESHTOK });
    const c = new AbortController();
    const aborted = s.call({}, { signal: c.signal });
    const other = s.call();
    setTimeout(() => c.abort(), 30);
    expect(await rejection(aborted)).toBeInstanceOf(AbortError);
    await expect(other).resolves.toEqual({ ok: true });
    expect(events.tokenChanged).toHaveLength(1);
  });

  it('account.refresh() refreshes on demand; without a refresh token it fails without a request', async () => {
    refreshReply();
    const { s, events } = session({ refreshToken: REFRESHTOK });
    await s.account.refresh();
    expect(events.tokenChanged).toHaveLength(1);
    const none = session();
    const e = await rejection(none.s.account.refresh());
    expect(e).toBeInstanceOf(MatrixSessionError);
    expect(e.message).toBe('No refresh token is held');
  });
});

describe('session.close()', () => {
  it('aborts every request in flight with AbortError', async () => {
    nock(BASE).get(P).times(3).delay(5000).reply(200, {});
    const { s } = session();
    const pending = [s.call(), s.call(), s.call()].map(rejection);
    setTimeout(() => void s.close(), 20);
    for (const e of await Promise.all(pending)) expect(e).toBeInstanceOf(AbortError);
    nock.abortPendingRequests();
  });

  it('makes every later request fail with AbortError without sending it', async () => {
    const { s, sent } = session();
    await s.close();
    expect(await rejection(s.call())).toBeInstanceOf(AbortError);
    expect(sent()).toEqual([]);
    expect(s.raw.closed).toBe(true);
  });

  it('does not warn about listener leaks with many requests in flight', () => {
    // Node reports the warning on the real process, which jest's sandbox does not see: use a child.
    const script = `
      const { createServer } = require('node:http');
      const { MatrixSession } = require('./lib');
      process.on('warning', (w) => console.log('WARNING ' + w.name));
      const srv = createServer((_q, r) => setTimeout(() => r.end('{"versions":[]}'), 30));
      srv.listen(0, '127.0.0.1', async () => {
        const s = new MatrixSession({ baseUrl: 'http://127.0.0.1:' + srv.address().port });
        const all = await Promise.all(Array.from({ length: 30 }, () => s.server.versions().then(() => 1, () => 0)));
        srv.close();
        console.log('ok ' + all.reduce((a, b) => a + b, 0));
      });`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register', '-e', script], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
      encoding: 'utf8',
    });
    expect(out.trim().split('\n')).toEqual(['ok 30']);
  });
});

describe('logger', () => {
  it('gets one line per request and one per response, with method, path, status, ms and retries', async () => {
    nock(BASE).get(P).query(true).reply(503, 'x').get(P).query(true).reply(200, {});
    const { s, logs } = session();
    await s.call({ query: { since: 'abc' } }); // the query is left out of the log: it may hold a since token
    expect(logs).toHaveLength(4);
    expect(logs[0]).toBe(`-> GET ${P}`);
    expect(logs[1]).toMatch(new RegExp(`^<- 503 GET ${P} \\d+ms retries=0$`));
    expect(logs[2]).toBe(`-> GET ${P} (retry 1)`);
    expect(logs[3]).toMatch(new RegExp(`^<- 200 GET ${P} \\d+ms retries=1$`));
  });

  it('names the error class when there was no response', async () => {
    nock(BASE).get(P).delay(300).reply(200, {});
    const { s, logs } = session();
    await rejection(s.call({}, { timeoutMs: 10, maxRetries: 0 }));
    expect(logs[1]).toMatch(new RegExp(`^<- TimeoutError GET ${P} \\d+ms retries=0$`));
  });

  it('never gets a token, even across a refresh', async () => {
    nock(BASE).get(P).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).reply(200, { access_token: NEW_ACCESS, refresh_token: NEW_REFRESH });
    nock(BASE).get(P).reply(200, {});
    const { s, logs } = session({ refreshToken: REFRESHTOK });
    await s.call();
    expect(logs.length).toBe(6);
    for (const l of logs) expectNoSecret(l, 'a log line');
  });

  it('a logger that throws does not break the request', async () => {
    nock(BASE).get(P).reply(200, { ok: 1 });
    const s = new TestSession({
      baseUrl: BASE,
      accessToken: ACCESS,
      logger: () => {
        throw new Error('disk full');
      },
    });
    await expect(s.call()).resolves.toEqual({ ok: 1 });
  });
});

describe('no secret in errors, events or the session', () => {
  it('errors of every kind: message, JSON.stringify and util.inspect hold no token or Authorization value', async () => {
    const { s, events } = session({ refreshToken: REFRESHTOK });
    const errors: Error[] = [];
    nock(BASE).get('/e500').reply(500, { errcode: 'M_UNKNOWN', error: 'boom' });
    errors.push(await rejection(s.call({ path: '/e500' })));
    failTransport('POST', '/reset', 'ECONNRESET');
    errors.push(await rejection(s.call({ path: '/reset', method: 'POST', body: { x: 1 } })));
    nock(BASE).get('/slow').delay(300).reply(200, {});
    errors.push(await rejection(s.call({ path: '/slow' }, { timeoutMs: 5, maxRetries: 0 })));
    nock(BASE).get('/bad').reply(200, '{"trunc');
    errors.push(await rejection(s.call({ path: '/bad' })));
    nock(BASE).get('/html').reply(403, '<html>forbidden</html>');
    errors.push(await rejection(s.call({ path: '/html' })));
    const c = new AbortController();
    c.abort();
    errors.push(await rejection(s.call({}, { signal: c.signal })));
    // Finally the refresh is refused: sessionExpired carries an error too.
    nock(BASE).get(P).reply(401, EXPIRED);
    nock(BASE).post(REFRESH).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'revoked', soft_logout: true });
    errors.push(await rejection(s.call()));
    errors.push(await rejection(s.call()));
    expect(errors.map((e) => e.name)).toEqual([
      'MatrixError', 'ConnectionError', 'TimeoutError', 'InvalidResponseError', 'MatrixError', 'AbortError', 'MatrixError', 'NotLoggedInError',
    ]);
    errors.push(...events.sessionExpired.map((e) => e.error));
    for (const e of errors) {
      for (const text of [e.message, JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), String(e.stack)]) {
        expectNoSecret(text, e.name);
        expect(text).not.toMatch(/Bearer/);
      }
    }
    expectNoSecret(inspect(events.sessionExpired, { depth: 10 }), 'sessionExpired payload');
  });

  it('util.inspect and JSON.stringify of a logged-in session (and its groups and core) hold no token', () => {
    const { s } = session({ refreshToken: REFRESHTOK });
    const texts = [
      inspect(s, { depth: 10, showHidden: true }),
      JSON.stringify(s),
      inspect(s.account, { depth: 10, showHidden: true }),
      inspect(s.raw, { depth: 10, showHidden: true }),
      JSON.stringify(s.raw.credentials),
      String(s),
    ];
    for (const t of texts) expectNoSecret(t, 'session dump');
    expect(JSON.parse(JSON.stringify(s))).toEqual({ baseUrl: BASE, userId: '@me:hs.test', deviceId: 'DEV', isLoggedIn: true });
  });
});

describe('input to the core', () => {
  it.each([
    ['timeoutMs 0', { timeoutMs: 0 }],
    ['timeoutMs negative', { timeoutMs: -5 }],
    ['timeoutMs fractional', { timeoutMs: 1.5 }],
    ['timeoutMs beyond a timer', { timeoutMs: 2 ** 31 }],
    ['timeoutMs as text', { timeoutMs: '100' }],
    ['maxRetries negative', { maxRetries: -1 }],
    ['maxRetries as text', { maxRetries: '3' }],
    ['signal that is not an AbortSignal', { signal: { aborted: false } }],
    ['options null', null],
  ])('per-request options: %s → ValidationError, nothing sent', async (_what, options) => {
    const { s, sent } = session();
    expect(await rejection(s.call({}, options as RequestOptions))).toBeInstanceOf(ValidationError);
    expect(sent()).toEqual([]);
  });

  it.each([
    ['timeoutMs', { timeoutMs: 0 }],
    ['maxRetries', { maxRetries: -1 }],
    ['maxRateLimitWaitMs', { maxRateLimitWaitMs: 'x' }],
    ['backoffBaseMs', { backoffBaseMs: 0.5 }],
    ['backoffMaxMs', { backoffMaxMs: -1 }],
    ['logger', { logger: 'console' }],
    ['baseUrl', { baseUrl: 'ftp://x' }],
    ['maxResponseBytes', { maxResponseBytes: 0 }],
    ['maxResponseBytes', { maxResponseBytes: '1 MB' }],
  ])('session options: a bad %s is a ValidationError at construction', (_what, bad) => {
    expect(() => new MatrixSession({ baseUrl: BASE, ...(bad as object) } as SessionOptions)).toThrow(ValidationError);
  });

  it('a body that cannot be JSON is a ValidationError, nothing sent', async () => {
    const { s, sent } = session();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await rejection(s.call({ method: 'POST', body: cyclic }))).toBeInstanceOf(ValidationError);
    expect(await rejection(s.call({ method: 'POST', body: { n: 10n } }))).toBeInstanceOf(ValidationError);
    expect(sent()).toEqual([]);
  });

  it.each([
    ['a query', 'http://hs.test/?x=', 'must not have a query (?…)'],
    ['a fragment', 'http://hs.test/#x', 'must not have a fragment (#…)'],
    ['user info', 'http://user:pass@hs.test', 'must not contain user info (user:password@)'],
    ['surrounding whitespace', ' http://hs.test ', 'must not have leading or trailing whitespace'],
    ['another scheme', 'ws://hs.test', 'must use the http:// or https:// scheme'],
  ])('a base URL with %s is refused at construction, naming the rule', (_what, baseUrl, rule) => {
    let error: unknown;
    try {
      new TestSession({ baseUrl, accessToken: ACCESS });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ parameter: 'baseUrl', rule });
  });

  it('a base URL with a path prefix (a homeserver behind a reverse-proxy path) keeps it in front of every path', async () => {
    nock(BASE).get(`/matrix${P}`).query({ a: '1' }).reply(200, { prefixed: true });
    const s = new TestSession({ baseUrl: `${BASE}/matrix/`, accessToken: ACCESS });
    expect(s.baseUrl).toBe(`${BASE}/matrix`);
    await expect(s.call({ query: { a: '1' } })).resolves.toEqual({ prefixed: true });
  });

  it('a trailing slash on the base URL is dropped', async () => {
    nock(BASE).get(P).reply(200, {});
    const s = new TestSession({ baseUrl: `${BASE}//`, accessToken: ACCESS });
    expect(s.baseUrl).toBe(BASE);
    await s.call();
  });
});

describe('sync.once timeout', () => {
  const SYNC = '/_matrix/client/v3/sync';

  it('passes timeoutMs = long-poll timeout + 30 s margin to the core', async () => {
    const { s } = session();
    const spy = jest.spyOn(s.raw, 'request');
    nock(BASE).get(SYNC).query({ timeout: '25000' }).reply(200, { next_batch: 'b1' });
    await s.sync.once({ timeout: 25_000 });
    nock(BASE).get(SYNC).query({ timeout: '0' }).reply(200, { next_batch: 'b2' });
    await s.sync.once();
    expect(spy.mock.calls.map(([spec]) => spec.timeoutMs)).toEqual([55_000, 30_000]);
  });

  it('so a long poll held longer than the session timeout does not time out', async () => {
    nock(BASE).get(SYNC).query({ timeout: '300' }).delay(150).reply(200, { next_batch: 'b1' });
    const { s } = session({ timeoutMs: 20 });
    await expect(s.sync.once({ timeout: 300 })).resolves.toEqual({ next_batch: 'b1' });
    // The same delay on an ordinary call does time out at the session's 20 ms.
    nock(BASE).get(P).delay(150).reply(200, {});
    expect(await rejection(s.call({}, { maxRetries: 0 }))).toMatchObject({ name: 'TimeoutError', timeoutMs: 20 });
  });

  it('a per-call timeoutMs still wins over the margin', async () => {
    nock(BASE).get(SYNC).query(true).delay(300).reply(200, { next_batch: 'b1' });
    const { s } = session();
    const e = await rejection(s.sync.once({ timeout: 10_000 }, { timeoutMs: 15, maxRetries: 0 }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect((e as TimeoutError).timeoutMs).toBe(15);
  });
});

describe('what a failed request does not do', () => {
  it('a ConnectionError is not mistaken for an expired session', async () => {
    failTransport('POST', P, 'ECONNRESET');
    const { s, events } = session({ refreshToken: REFRESHTOK });
    expect(await rejection(s.call({ method: 'POST', body: {} }))).toBeInstanceOf(ConnectionError);
    expect(events.sessionExpired).toEqual([]);
    expect(s.isLoggedIn).toBe(true);
  });

  it('a 403 M_UNKNOWN_TOKEN or a 401 M_MISSING_TOKEN does not trigger a refresh', async () => {
    nock(BASE).get(P).reply(403, { errcode: 'M_UNKNOWN_TOKEN', error: 'x' });
    nock(BASE).get(P).reply(401, { errcode: 'M_MISSING_TOKEN', error: 'x' });
    const { s, events, sent } = session({ refreshToken: REFRESHTOK });
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 403 });
    expect(await rejection(s.call())).toMatchObject({ errcode: 'M_MISSING_TOKEN' });
    expect(sent()).toHaveLength(2);
    expect(events.tokenChanged).toEqual([]);
  });
});
