import { inspect } from 'node:util';
import nock from 'nock';
import {
  AbortError,
  Account,
  Auth,
  MatrixError,
  MatrixSession,
  Rooms,
  type RequestOptions,
  type SessionEvents,
} from '../lib';
import { AUTH, authAs, BASE, expectThrowsInvalid, guardNock, json, ME, record, session, TOKEN } from './helpers/fixtures';

const state = (s: MatrixSession) => ({ isLoggedIn: s.isLoggedIn, userId: s.userId, deviceId: s.deviceId, token: s.getAccessToken() });

guardNock();

describe('construction', () => {
  it('starts logged out, or resumes from stored credentials', () => {
    expect(state(session(false))).toEqual({ isLoggedIn: false, userId: undefined, deviceId: undefined, token: undefined });
    expect(state(session(true))).toEqual({ isLoggedIn: true, userId: ME, deviceId: 'DEV', token: TOKEN });
    const s = new MatrixSession({ baseUrl: `${BASE}///`, refreshToken: 'r', accessToken: 'a' });
    expect(s.baseUrl).toBe(BASE);
    expect(s.getRefreshToken()).toBe('r');
  });

  it.each([
    ['no options', undefined, 'baseUrl'],
    ['a baseUrl without scheme', { baseUrl: 'hs.example.org' }, 'baseUrl'],
    ['a non-http baseUrl', { baseUrl: 'ftp://hs.example.org' }, 'baseUrl'],
    ['a malformed userId', { baseUrl: BASE, userId: 'alice' }, 'userId'],
    ['an empty accessToken', { baseUrl: BASE, accessToken: '' }, 'accessToken'],
    // A token goes into the Authorization header as it is: visible ASCII only, at most 4096.
    ['an accessToken with a space', { baseUrl: BASE, accessToken: 'syt abc' }, 'accessToken'],
    ['an accessToken with non-ASCII', { baseUrl: BASE, accessToken: 'syt_é' }, 'accessToken'],
    ['an accessToken with a line break', { baseUrl: BASE, accessToken: 'syt\r\nX-Evil: 1' }, 'accessToken'],
    ['an over-long accessToken', { baseUrl: BASE, accessToken: 'a'.repeat(4097) }, 'accessToken'],
    ['a refreshToken with non-ASCII', { baseUrl: BASE, accessToken: 'a', refreshToken: 'ré' }, 'refreshToken'],
    ['a non-string deviceId', { baseUrl: BASE, deviceId: 7 }, 'deviceId'],
  ])('refuses %s with a ValidationError', (_what, options, parameter) => {
    expectThrowsInvalid(() => new MatrixSession(options as never), parameter);
  });
});

describe('auth state transitions and events', () => {
  it('register → logout → login (same device) → sessionExpired → login → logoutAll → login → deactivate: one event per step', async () => {
    const s = session(false);
    const seen = record(s);

    nock(BASE).post('/_matrix/client/v3/register').reply(200, { user_id: ME, access_token: 't1', device_id: 'D1' });
    await s.account.register({ username: 'alice', password: 'pw' });
    expect(state(s)).toEqual({ isLoggedIn: true, userId: ME, deviceId: 'D1', token: 't1' });
    expect(seen.splice(0)).toEqual([['register', { userId: ME, deviceId: 'D1', accessToken: 't1' }]]);

    nock(BASE, authAs('t1')).post('/_matrix/client/v3/logout').reply(200, {});
    await s.account.logout();
    expect(state(s)).toEqual({ isLoggedIn: false, userId: undefined, deviceId: undefined, token: undefined });
    expect(seen.splice(0)).toEqual([['logout', { userId: ME, all: false }]]);

    nock(BASE).post('/_matrix/client/v3/login', { ...Auth.password('alice', 'pw'), device_id: 'D1' }).reply(200, { user_id: ME, access_token: 't2', device_id: 'D1' });
    await s.account.loginWithPassword('alice', 'pw', { deviceId: 'D1' });
    expect(state(s)).toEqual({ isLoggedIn: true, userId: ME, deviceId: 'D1', token: 't2' });
    expect(seen.splice(0)).toEqual([['login', { userId: ME, deviceId: 'D1', accessToken: 't2' }]]);

    // The server forgets the token (soft logout): the IDs stay, so the app can log in to the same device.
    nock(BASE, authAs('t2')).get('/_matrix/client/v3/account/whoami').reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'expired', soft_logout: true });
    await expect(s.account.whoami()).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    expect(state(s)).toEqual({ isLoggedIn: false, userId: ME, deviceId: 'D1', token: undefined });
    const expired = seen.splice(0);
    expect(expired).toHaveLength(1);
    expect(expired[0][0]).toBe('sessionExpired');
    expect(expired[0][1]).toMatchObject({ softLogout: true, error: expect.any(MatrixError) });

    nock(BASE).post('/_matrix/client/v3/login').reply(200, { user_id: ME, access_token: 't3', device_id: 'D1' });
    await s.account.login(Auth.password('alice', 'pw'), { deviceId: s.deviceId });
    expect(seen.splice(0).map(([n]) => n)).toEqual(['login']);

    nock(BASE, authAs('t3')).post('/_matrix/client/v3/logout/all').reply(200, {});
    await s.account.logoutAll();
    expect(state(s).isLoggedIn).toBe(false);
    expect(seen.splice(0)).toEqual([['logout', { userId: ME, all: true }]]);

    nock(BASE).post('/_matrix/client/v3/login').reply(200, { user_id: ME, access_token: 't4', device_id: 'D2' });
    await s.account.loginWithPassword('alice', 'pw');
    seen.splice(0);
    nock(BASE, authAs('t4')).post('/_matrix/client/v3/account/deactivate', json({ auth: Auth.password('alice', 'pw') })).reply(200, { id_server_unbind_result: 'no-support' });
    await s.account.deactivate({ auth: Auth.password('alice', 'pw') });
    expect(state(s)).toEqual({ isLoggedIn: false, userId: undefined, deviceId: undefined, token: undefined });
    expect(seen.splice(0)).toEqual([['logout', { userId: ME, all: true }]]);
  });

  it('registerGuest and inhibitLogin', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/register').query({ kind: 'guest' }).reply(200, { user_id: '@7:example.org', access_token: 'g', device_id: 'guest_device' });
    await s.account.registerGuest();
    expect(state(s)).toEqual({ isLoggedIn: true, userId: '@7:example.org', deviceId: 'guest_device', token: 'g' });

    const t = session(false);
    const tSeen = record(t);
    nock(BASE).post('/_matrix/client/v3/register').reply(200, { user_id: '@bob:example.org' });
    await t.account.register({ username: 'bob', inhibitLogin: true });
    expect(state(t)).toEqual({ isLoggedIn: false, userId: undefined, deviceId: undefined, token: undefined });
    expect(seen.map(([n]) => n)).toEqual(['register']);
    expect(tSeen).toEqual([['register', { userId: '@bob:example.org' }]]);
  });

  it('N requests refused at once end the session with one sessionExpired', async () => {
    const s = session(true);
    const seen = record(s);
    nock(BASE).get('/_matrix/client/v3/account/whoami').times(3).reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'gone' });
    const results = await Promise.allSettled([s.account.whoami(), s.account.whoami(), s.account.whoami()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(seen.map(([n, info]) => [n, (info as { softLogout: boolean }).softLogout])).toEqual([['sessionExpired', false]]);
    expect(s.isLoggedIn).toBe(false);
  });

  it('a failed login, register or logout changes nothing and emits nothing', async () => {
    const s = session(true);
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/login').reply(403, { errcode: 'M_FORBIDDEN', error: 'no' });
    nock(BASE).post('/_matrix/client/v3/register').reply(400, { errcode: 'M_USER_IN_USE', error: 'taken' });
    nock(BASE).post('/_matrix/client/v3/logout').reply(500, {});
    await expect(s.account.loginWithPassword('bob', 'x')).rejects.toBeInstanceOf(MatrixError);
    await expect(s.account.register({ username: 'bob' })).rejects.toBeInstanceOf(MatrixError);
    await expect(s.account.logout()).rejects.toBeInstanceOf(MatrixError);
    expect(state(s)).toEqual({ isLoggedIn: true, userId: ME, deviceId: 'DEV', token: TOKEN });
    expect(seen).toEqual([]);
  });
});

describe('listeners', () => {
  it('a listener that throws does not break the request; listenerError reports it and other listeners still run', async () => {
    const s = session(false);
    const errors: Array<{ event: string; error: unknown }> = [];
    const boom = new Error('listener bug');
    const later: string[] = [];
    s.on('listenerError', (info) => void errors.push(info));
    s.on('login', () => {
      throw boom;
    });
    s.on('login', (info) => void later.push(info.userId));
    nock(BASE).post('/_matrix/client/v3/login').reply(200, { user_id: ME, access_token: 't', device_id: 'D' });
    await expect(s.account.loginWithPassword('alice', 'pw')).resolves.toMatchObject({ user_id: ME });
    expect(s.isLoggedIn).toBe(true);
    expect(later).toEqual([ME]);
    expect(errors).toEqual([{ event: 'login', error: boom }]);
  });

  it('a listener whose promise rejects is reported too', async () => {
    const s = session(true);
    const errors: string[] = [];
    s.on('listenerError', ({ event, error }) => void errors.push(`${event}: ${(error as Error).message}`));
    s.on('logout', async () => {
      throw new Error('async bug');
    });
    nock(BASE).post('/_matrix/client/v3/logout').reply(200, {});
    await s.account.logout();
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual(['logout: async bug']);
  });

  it('a listenerError listener that throws too becomes a process warning, not a loop', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const s = session(true);
      s.on('listenerError', () => {
        throw new Error('second');
      });
      s.on('logout', () => {
        throw new Error('first');
      });
      nock(BASE).post('/_matrix/client/v3/logout').reply(200, {});
      await s.account.logout();
      expect(s.isLoggedIn).toBe(false);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('"listenerError"');
    } finally {
      warn.mockRestore();
    }
  });

  it('off() removes a listener added with on() or once()', async () => {
    const s = session(true);
    const calls: string[] = [];
    const fn = () => void calls.push('x');
    s.on('tokenChanged', fn);
    s.off('tokenChanged', fn);
    s.once('tokenChanged', fn);
    s.setCredentials({ accessToken: 'a' });
    s.setCredentials({ accessToken: 'b' });
    expect(calls).toEqual(['x']);
  });
});

describe('the token stays private', () => {
  it('getAccessToken() is the way to read it: inspect, JSON, String and enumeration do not show it', () => {
    const s = new MatrixSession({ baseUrl: BASE, accessToken: TOKEN, refreshToken: 'refresh-secret-987', userId: ME, deviceId: 'DEV' });
    expect(s.getAccessToken()).toBe(TOKEN);
    const views = [
      inspect(s),
      inspect(s, { depth: Infinity, showHidden: true }),
      inspect(s, { depth: Infinity, showHidden: true, customInspect: false }),
      inspect(s.account, { depth: Infinity, showHidden: true }),
      JSON.stringify(s),
      JSON.stringify(s.account),
      JSON.stringify({ ...s }),
      String(s),
      Object.values(s).map((v) => inspect(v, { depth: Infinity, showHidden: true })).join(),
    ];
    for (const view of views) {
      expect(view).not.toContain(TOKEN);
      expect(view).not.toContain('refresh-secret-987');
    }
    expect(JSON.parse(JSON.stringify(s))).toEqual({ baseUrl: BASE, userId: ME, deviceId: 'DEV', isLoggedIn: true });
    expect(inspect(s, { breakLength: Infinity })).toBe(
      `MatrixSession { baseUrl: '${BASE}', userId: '${ME}', deviceId: 'DEV', isLoggedIn: true }`,
    );
    expect(Object.keys(s)).not.toContain('accessToken');
  });

  it('errors from a refused request do not carry it either', async () => {
    const s = session(true);
    nock(BASE).get('/_matrix/client/v3/account/whoami').reply(403, { errcode: 'M_FORBIDDEN', error: 'no' });
    const error = await s.account.whoami().catch((e: unknown) => e);
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(TOKEN);
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });
});

describe('setCredentials', () => {
  it('adopts stored credentials, emits tokenChanged once, and the next request uses them', async () => {
    const s = session(false);
    const seen = record(s);
    s.setCredentials({ accessToken: 'stored', refreshToken: 'stored-r', userId: ME, deviceId: 'D9' });
    expect(state(s)).toEqual({ isLoggedIn: true, userId: ME, deviceId: 'D9', token: 'stored' });
    expect(s.getRefreshToken()).toBe('stored-r');
    expect(seen).toEqual([['tokenChanged', { accessToken: 'stored', refreshToken: 'stored-r' }]]);
    nock(BASE, authAs('stored')).get('/_matrix/client/v3/account/whoami').reply(200, { user_id: ME });
    await s.account.whoami();
  });

  it('replaces both tokens but keeps the IDs when none are given', () => {
    const s = new MatrixSession({ baseUrl: BASE, accessToken: 'a', refreshToken: 'r', userId: ME, deviceId: 'D' });
    s.setCredentials({ accessToken: 'b' });
    expect([s.getAccessToken(), s.getRefreshToken(), s.userId, s.deviceId]).toEqual(['b', undefined, ME, 'D']);
  });

  it('refuses bad credentials without changing anything', () => {
    const s = session(true);
    const seen = record(s);
    for (const [bad, parameter] of [
      [undefined, 'credentials'],
      [{}, 'accessToken'],
      [{ accessToken: '' }, 'accessToken'],
      [{ accessToken: 'a', userId: 'nope' }, 'userId'],
      [{ accessToken: 'a', refreshToken: 1 }, 'refreshToken'],
      [{ accessToken: 'tok\u00e9' }, 'accessToken'],
      [{ accessToken: 'a', refreshToken: 'r r' }, 'refreshToken'],
    ] as const) {
      expectThrowsInvalid(() => s.setCredentials(bad as never), parameter);
    }
    expect(state(s).token).toBe(TOKEN);
    expect(seen).toEqual([]);
  });
});

describe('close()', () => {
  it('aborts requests in flight and refuses new ones with AbortError', async () => {
    const s = session(true);
    nock(BASE).get('/_matrix/client/v3/account/whoami').delay(200).reply(200, { user_id: ME });
    const inFlight = s.account.whoami();
    await new Promise((r) => setTimeout(r, 20));
    await s.close();
    await expect(inFlight).rejects.toBeInstanceOf(AbortError);
    await expect(s.server.versions()).rejects.toBeInstanceOf(AbortError);
    await expect(s.close()).resolves.toBeUndefined();
  });
});

describe('subclassing', () => {
  // (a) A subclass replaces a group with its own subclass of it.
  class MyRooms extends Rooms {
    /** An endpoint the SDK does not wrap, through the same pipeline (token, errors, retries). */
    async tags(roomId: string, options?: RequestOptions): Promise<{ tags: Record<string, { order?: number }> }> {
      return this.core.request(
        { method: 'GET', path: `/_matrix/client/v3/user/${encodeURIComponent(this.ownUserId)}/rooms/${encodeURIComponent(roomId)}/tags` },
        options,
      );
    }
  }
  class MyAccount extends Account {
    lastLoginAt?: number;
    override async login(...args: Parameters<Account['login']>) {
      const res = await super.login(...args);
      this.lastLoginAt = Date.now();
      return res;
    }
  }

  // (b) It calls the protected core for an endpoint the SDK does not wrap.
  interface Device {
    device_id: string;
    display_name?: string;
  }
  class MySession extends MatrixSession {
    override readonly rooms = this.group(MyRooms);
    override readonly account: MyAccount = new MyAccount(this, this.core);
    devices(options?: RequestOptions): Promise<{ devices: Device[] }> {
      return this.core.request({ method: 'GET', path: '/_matrix/client/v3/devices', required: ['devices'] }, options);
    }
  }

  // (c) It adds typed events of its own.
  class Bot extends MatrixSession<SessionEvents & { ready: [count: number]; command: [name: string, args: string[]] }> {
    override readonly rooms = this.group(MyRooms);
    start(count: number): void {
      this.emit('ready', count);
    }
  }

  it('(a) a replaced group is the subclass, bound to the same session and credentials', async () => {
    const s = new MySession({ baseUrl: BASE, accessToken: TOKEN, userId: ME, maxRetries: 0 });
    expect(s.rooms).toBeInstanceOf(MyRooms);
    expect(s.rooms).toBeInstanceOf(Rooms);
    nock(BASE, AUTH).get('/_matrix/client/v3/user/%40alice%3Aexample.org/rooms/!r%3Aexample.org/tags').reply(200, { tags: { 'm.favourite': { order: 0.5 } } });
    await expect(s.rooms.tags('!r:example.org')).resolves.toEqual({ tags: { 'm.favourite': { order: 0.5 } } });

    const seen: string[] = [];
    s.on('login', (info) => void seen.push(info.userId));
    nock(BASE).post('/_matrix/client/v3/login').reply(200, { user_id: ME, access_token: 't2', device_id: 'D' });
    await s.account.loginWithPassword('alice', 'pw');
    expect(s.account.lastLoginAt).toEqual(expect.any(Number));
    expect([s.getAccessToken(), seen]).toEqual(['t2', [ME]]);
    // The replaced group uses the new token at once: there is one set of credentials.
    nock(BASE, authAs('t2')).get('/_matrix/client/v3/user/%40alice%3Aexample.org/rooms/!x%3Aexample.org/tags').reply(200, { tags: {} });
    await s.rooms.tags('!x:example.org');
  });

  it('(b) this.core.request gets the token, error mapping and session events', async () => {
    const s = new MySession({ baseUrl: BASE, accessToken: TOKEN, userId: ME, maxRetries: 0 });
    nock(BASE, AUTH).get('/_matrix/client/v3/devices').reply(200, { devices: [{ device_id: 'DEV', display_name: 'Laptop' }] });
    const { devices } = await s.devices();
    expect(devices.map((d) => d.device_id)).toEqual(['DEV']);

    const expired: boolean[] = [];
    s.on('sessionExpired', ({ softLogout }) => void expired.push(softLogout));
    nock(BASE).get('/_matrix/client/v3/devices').reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'gone' });
    await expect(s.devices()).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    expect(expired).toEqual([false]);
    await expect(s.devices()).rejects.toMatchObject({ name: 'NotLoggedInError' });
  });

  it('(c) own typed events sit beside the session events', async () => {
    const bot = new Bot({ baseUrl: BASE, maxRetries: 0 });
    const got: string[] = [];
    bot.on('ready', (count) => void got.push(`ready ${count.toFixed(0)}`));
    bot.on('command', (name, args) => void got.push(`${name}(${args.join(',')})`));
    bot.on('register', (info) => void got.push(`register ${info.userId}`));
    bot.start(3);
    bot.emit('command', 'echo', ['a', 'b']);
    nock(BASE).post('/_matrix/client/v3/register').query({ kind: 'guest' }).reply(200, { user_id: '@9:example.org', access_token: 'g', device_id: 'D' });
    await bot.account.registerGuest();
    expect(got).toEqual(['ready 3', 'echo(a,b)', 'register @9:example.org']);
    expect(bot.rooms).toBeInstanceOf(MyRooms);

    // A throwing listener of a subclass event is reported like any other.
    const errors: string[] = [];
    bot.on('listenerError', ({ event }) => void errors.push(event));
    bot.once('ready', () => {
      throw new Error('x');
    });
    bot.start(1);
    expect(errors).toEqual(['ready']);

    // The compiler checks both maps (`tsc -p tsconfig.json --noEmit` covers spec/):
    // @ts-expect-error wrong payload type for a subclass event
    bot.emit('ready', 'three');
    // @ts-expect-error unknown event
    bot.on('nope', () => undefined);
    // @ts-expect-error wrong listener type for a session event
    bot.on('login', (info: number) => info);
    const plain = session(false);
    // @ts-expect-error a plain session does not have the subclass events
    plain.on('ready', () => undefined);
  });
});
