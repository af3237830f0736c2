import nock from 'nock';
import {
  Auth,
  InvalidResponseError,
  MatrixError,
  MatrixSessionError,
  NotLoggedInError,
  type AuthDict,
  type UiaAuth,
  type UiaContext,
} from '../../lib';
import { AUTH, BASE, expectInvalid, failure, guardNock, json, ME, ME_PATH, NO_AUTH, record, session, TOKEN } from '../helpers/fixtures';

guardNock();

const LOGIN_OK = { user_id: ME, access_token: 'new-token', device_id: 'NEWDEV' };
const uia = (body: Record<string, unknown>) => ({ flows: [{ stages: ['m.login.dummy'] }], params: {}, ...body });

describe('account.loginFlows', () => {
  it('GETs /login without a token, even when one is held', async () => {
    const flows = { flows: [{ type: 'm.login.password' }, { type: 'm.login.token', get_login_token: true }] };
    nock(BASE, NO_AUTH).get('/_matrix/client/v3/login').reply(200, flows);
    await expect(session().account.loginFlows()).resolves.toEqual(flows);
  });

  it('rejects a reply without flows as an InvalidResponseError', async () => {
    nock(BASE).get('/_matrix/client/v3/login').reply(200, {});
    await expect(session(false).account.loginFlows()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('passes on 404 M_UNRECOGNIZED (an OAuth-only server) as a MatrixError', async () => {
    nock(BASE).get('/_matrix/client/v3/login').reply(404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    await expect(session(false).account.loginFlows()).rejects.toMatchObject({ name: 'MatrixError', errcode: 'M_UNRECOGNIZED' });
  });
});

describe('account.login', () => {
  const builders: Array<[string, AuthDict, Record<string, unknown>]> = [
    [
      'Auth.password (localpart)',
      Auth.password('alice', 'pw'),
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'pw' },
    ],
    [
      'Auth.password (user ID)',
      Auth.password(ME, 'pw with spaces\n'),
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: ME }, password: 'pw with spaces\n' },
    ],
    [
      'Auth.passwordByThreepid',
      Auth.passwordByThreepid('email', 'alice@example.org', 'pw'),
      { type: 'm.login.password', identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'alice@example.org' }, password: 'pw' },
    ],
    [
      'Auth.passwordByPhone',
      Auth.passwordByPhone('GB', '07700900123', 'pw'),
      { type: 'm.login.password', identifier: { type: 'm.id.phone', country: 'GB', phone: '07700900123', number: '07700900123' }, password: 'pw' },
    ],
    ['Auth.token', Auth.token('login-token'), { type: 'm.login.token', token: 'login-token' }],
    [
      'a hand-made dictionary',
      { type: 'm.login.application_service', identifier: { type: 'm.id.user', user: 'bot' } },
      { type: 'm.login.application_service', identifier: { type: 'm.id.user', user: 'bot' } },
    ],
  ];

  it.each(builders)('POSTs the %s body as is, without a token, and logs the session in', async (_name, auth, wire) => {
    const s = session(false);
    const seen = record(s);
    nock(BASE, NO_AUTH).post('/_matrix/client/v3/login', json(wire)).reply(200, LOGIN_OK);
    await expect(s.account.login(auth)).resolves.toEqual(LOGIN_OK);
    expect(s.isLoggedIn).toBe(true);
    expect(s.userId).toBe(ME);
    expect(s.deviceId).toBe('NEWDEV');
    expect(s.getAccessToken()).toBe('new-token');
    expect(s.getRefreshToken()).toBeUndefined();
    expect(seen).toEqual([['login', { userId: ME, deviceId: 'NEWDEV', accessToken: 'new-token' }]]);
  });

  it('sends deviceId, initialDeviceDisplayName and refreshToken as the spec names them, and keeps the refresh token', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE, NO_AUTH)
      .post('/_matrix/client/v3/login', {
        ...Auth.password('alice', 'pw'),
        device_id: 'KEEP',
        initial_device_display_name: 'My laptop',
        refresh_token: true,
      })
      .reply(200, { ...LOGIN_OK, device_id: 'KEEP', refresh_token: 'refresh-1', expires_in_ms: 60_000, well_known: {} });
    const res = await s.account.login(Auth.password('alice', 'pw'), {
      deviceId: 'KEEP',
      initialDeviceDisplayName: 'My laptop',
      refreshToken: true,
    });
    expect(res).toMatchObject({ device_id: 'KEEP', refresh_token: 'refresh-1', expires_in_ms: 60_000 });
    expect(s.deviceId).toBe('KEEP');
    expect(s.getRefreshToken()).toBe('refresh-1');
    expect(seen).toEqual([
      ['login', { userId: ME, deviceId: 'KEEP', accessToken: 'new-token', refreshToken: 'refresh-1', expiresInMs: 60_000 }],
    ]);
  });

  it('sends refresh_token: false when asked not to have one', async () => {
    nock(BASE).post('/_matrix/client/v3/login', { type: 'm.login.token', token: 't', refresh_token: false }).reply(200, LOGIN_OK);
    await session(false).account.login(Auth.token('t'), { refreshToken: false });
  });

  it('replaces the credentials of a session already logged in, without sending its token', async () => {
    const s = session();
    nock(BASE, NO_AUTH).post('/_matrix/client/v3/login').reply(200, { user_id: '@bob:example.org', access_token: 'bob-token', device_id: 'B' });
    await s.account.login(Auth.password('bob', 'pw'));
    expect([s.userId, s.deviceId, s.getAccessToken()]).toEqual(['@bob:example.org', 'B', 'bob-token']);
  });

  it('leaves the session logged out and emits nothing when the server refuses (403 M_FORBIDDEN)', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/login').reply(403, { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    const error = await failure(s.account.login(Auth.password('alice', 'wrong')));
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
    expect(s.isLoggedIn).toBe(false);
    expect(s.userId).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it('rejects a 200 without access_token as an InvalidResponseError and changes nothing', async () => {
    const s = session(false);
    nock(BASE).post('/_matrix/client/v3/login').reply(200, { user_id: ME, device_id: 'D' });
    await expect(s.account.login(Auth.token('t'))).rejects.toBeInstanceOf(InvalidResponseError);
    expect(s.isLoggedIn).toBe(false);
  });

  it('is not repeated after a 502 (a login might have happened)', async () => {
    nock(BASE).post('/_matrix/client/v3/login').reply(502, 'Bad gateway');
    await expect(session(false, { maxRetries: 3 }).account.login(Auth.token('t'))).rejects.toMatchObject({ httpStatus: 502 });
  });

  it('refuses a bad auth dictionary or bad options before any request', async () => {
    const s = session(false);
    await expectInvalid(() => s.account.login(undefined as unknown as AuthDict), 'auth');
    await expectInvalid(() => s.account.login('m.login.password' as unknown as AuthDict), 'auth');
    await expectInvalid(() => s.account.login({ user: 'alice' } as unknown as AuthDict), 'auth');
    await expectInvalid(() => s.account.login(Auth.token('t'), null as unknown as object), 'opts');
    await expectInvalid(() => s.account.login(Auth.token('t'), { deviceId: '' }), 'deviceId');
    await expectInvalid(() => s.account.login(Auth.token('t'), { deviceId: 'x'.repeat(256) }), 'deviceId');
    await expectInvalid(() => s.account.login(Auth.token('t'), { initialDeviceDisplayName: 7 as unknown as string }), 'initialDeviceDisplayName');
    await expectInvalid(() => s.account.login(Auth.token('t'), { refreshToken: 'yes' as unknown as boolean }), 'refreshToken');
    expect(s.isLoggedIn).toBe(false);
  });
});

describe('account.loginWithPassword', () => {
  it('is login(Auth.password(user, password), opts)', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE, NO_AUTH)
      .post('/_matrix/client/v3/login', { ...Auth.password('alice', 'pw'), device_id: 'D1' })
      .reply(200, { ...LOGIN_OK, device_id: 'D1' });
    await expect(s.account.loginWithPassword('alice', 'pw', { deviceId: 'D1' })).resolves.toMatchObject({ device_id: 'D1' });
    expect(s.deviceId).toBe('D1');
    expect(seen.map(([name]) => name)).toEqual(['login']);
  });

  it('refuses an empty user or a non-string password with a rejection, not a synchronous throw', async () => {
    const s = session(false);
    await expectInvalid(() => s.account.loginWithPassword('', 'pw'), 'user');
    await expectInvalid(() => s.account.loginWithPassword('alice', undefined as unknown as string), 'password');
  });
});

describe('account.logout / logoutAll', () => {
  it('logout POSTs {} to /logout with the token, then forgets the credentials and emits logout once', async () => {
    const s = session();
    const seen = record(s);
    nock(BASE, AUTH).post('/_matrix/client/v3/logout', {}).reply(200, {});
    await expect(s.account.logout()).resolves.toBeUndefined();
    expect(s.isLoggedIn).toBe(false);
    expect(s.getAccessToken()).toBeUndefined();
    expect(s.userId).toBeUndefined();
    expect(s.deviceId).toBeUndefined();
    expect(seen).toEqual([['logout', { userId: ME, all: false }]]);
  });

  it('logoutAll POSTs {} to /logout/all and emits logout with all: true', async () => {
    const s = session();
    const seen = record(s);
    nock(BASE, AUTH).post('/_matrix/client/v3/logout/all', {}).reply(200, {});
    await expect(s.account.logoutAll()).resolves.toBeUndefined();
    expect(s.isLoggedIn).toBe(false);
    expect(seen).toEqual([['logout', { userId: ME, all: true }]]);
  });

  it('keeps the credentials when the server fails (500), and emits nothing', async () => {
    const s = session();
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/logout').reply(500, { errcode: 'M_UNKNOWN', error: 'oops' });
    await expect(s.account.logout()).rejects.toMatchObject({ httpStatus: 500 });
    expect(s.getAccessToken()).toBe(TOKEN);
    expect(seen).toEqual([]);
  });

  it('a token the server no longer knows ends in sessionExpired, not logout', async () => {
    const s = session();
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/logout').reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'gone' });
    await expect(s.account.logout()).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    expect(s.isLoggedIn).toBe(false);
    expect(seen.map(([name]) => name)).toEqual(['sessionExpired']);
  });

  it('needs a token: NotLoggedInError and no request', async () => {
    await expect(session(false).account.logout()).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(session(false).account.logoutAll()).rejects.toBeInstanceOf(NotLoggedInError);
  });
});

describe('account.register', () => {
  it('answers the dummy stage in the first request by default and logs the session in', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE, NO_AUTH)
      .post('/_matrix/client/v3/register', { username: 'alice', password: 'pw', auth: { type: 'm.login.dummy' } })
      .reply(200, LOGIN_OK);
    await expect(s.account.register({ username: 'alice', password: 'pw' })).resolves.toEqual(LOGIN_OK);
    expect([s.isLoggedIn, s.userId, s.deviceId, s.getAccessToken()]).toEqual([true, ME, 'NEWDEV', 'new-token']);
    expect(seen).toEqual([['register', { userId: ME, deviceId: 'NEWDEV', accessToken: 'new-token' }]]);
  });

  it('sends every option under its wire name', async () => {
    const s = session(false);
    nock(BASE)
      .post('/_matrix/client/v3/register', {
        username: 'alice',
        password: 'pw',
        device_id: 'DD',
        initial_device_display_name: 'Phone',
        refresh_token: true,
        auth: { type: 'm.login.dummy' },
      })
      .reply(200, { ...LOGIN_OK, device_id: 'DD', refresh_token: 'r1', expires_in_ms: 5000 });
    await s.account.register({ username: 'alice', password: 'pw', deviceId: 'DD', initialDeviceDisplayName: 'Phone', refreshToken: true });
    expect(s.deviceId).toBe('DD');
    expect(s.getRefreshToken()).toBe('r1');
  });

  it('with inhibitLogin creates the account but holds no token; the event still names the user', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE)
      .post('/_matrix/client/v3/register', { username: 'bob', password: 'pw', inhibit_login: true, auth: { type: 'm.login.dummy' } })
      .reply(200, { user_id: '@bob:example.org' });
    await expect(s.account.register({ username: 'bob', password: 'pw', inhibitLogin: true })).resolves.toEqual({ user_id: '@bob:example.org' });
    expect(s.isLoggedIn).toBe(false);
    expect(s.userId).toBeUndefined();
    expect(s.getAccessToken()).toBeUndefined();
    expect(seen).toEqual([['register', { userId: '@bob:example.org' }]]);
  });

  it('inhibitLogin leaves a logged-in session as it was', async () => {
    const s = session();
    nock(BASE, NO_AUTH).post('/_matrix/client/v3/register').reply(200, { user_id: '@bob:example.org' });
    await s.account.register({ username: 'bob', password: 'pw', inhibitLogin: true });
    expect([s.userId, s.getAccessToken()]).toEqual([ME, TOKEN]);
  });

  it('repeats the dummy stage with the session when the server wants one', async () => {
    const s = session(false);
    nock(BASE)
      .post('/_matrix/client/v3/register', { username: 'a', auth: { type: 'm.login.dummy' } })
      .reply(401, uia({ session: 'S1' }));
    nock(BASE)
      .post('/_matrix/client/v3/register', { username: 'a', auth: { type: 'm.login.dummy', session: 'S1' } })
      .reply(200, LOGIN_OK);
    await s.account.register({ username: 'a' });
    expect(s.isLoggedIn).toBe(true);
  });

  it('runs a two-stage flow from a map of stage answers, picking the flow it can finish', async () => {
    const s = session(false);
    const seen = record(s);
    const flows = [{ stages: ['m.login.email.identity'] }, { stages: ['m.login.registration_token', 'm.login.terms'] }];
    const params = { 'm.login.terms': { policies: {} } };
    nock(BASE).post('/_matrix/client/v3/register', { username: 'a', password: 'pw' }).reply(401, { session: 'S', flows, params });
    nock(BASE)
      .post('/_matrix/client/v3/register', {
        username: 'a',
        password: 'pw',
        auth: { type: 'm.login.registration_token', token: 'invite-1', session: 'S' },
      })
      .reply(401, { session: 'S', flows, params, completed: ['m.login.registration_token'] });
    nock(BASE)
      .post('/_matrix/client/v3/register', { username: 'a', password: 'pw', auth: { type: 'm.login.terms', session: 'S' } })
      .reply(200, LOGIN_OK);
    await s.account.register({
      username: 'a',
      password: 'pw',
      auth: { 'm.login.registration_token': Auth.registrationToken('invite-1'), 'm.login.terms': () => Auth.terms() },
    });
    expect(s.isLoggedIn).toBe(true);
    expect(seen.map(([name]) => name)).toEqual(['register']);
  });

  it('asks a function for each stage with the challenge context', async () => {
    const s = session(false);
    const asked: Array<[string, UiaContext]> = [];
    const answer = (stage: string, ctx: UiaContext) => {
      asked.push([stage, ctx]);
      return stage === 'm.login.recaptcha' ? Auth.recaptcha('captcha-response') : undefined;
    };
    const challenge = {
      session: 'S',
      flows: [{ stages: ['m.login.email.identity'] }, { stages: ['m.login.recaptcha'] }],
      params: { 'm.login.recaptcha': { public_key: 'pk' } },
    };
    nock(BASE).post('/_matrix/client/v3/register', { username: 'a' }).reply(401, challenge);
    nock(BASE)
      .post('/_matrix/client/v3/register', { username: 'a', auth: { type: 'm.login.recaptcha', response: 'captcha-response', session: 'S' } })
      .reply(200, LOGIN_OK);
    await s.account.register({ username: 'a', auth: answer });
    expect(asked.map(([stage]) => stage)).toEqual(['m.login.email.identity', 'm.login.recaptcha']);
    expect(asked[1][1]).toEqual({ session: 'S', flows: challenge.flows, params: challenge.params, completed: [] });
  });

  it('answers a password stage from Auth.password sent up front', async () => {
    const s = session(false);
    nock(BASE)
      .post('/_matrix/client/v3/register', json({ username: 'a', auth: Auth.password('admin', 'pw') }))
      .reply(200, LOGIN_OK);
    await s.account.register({ username: 'a', auth: Auth.password('admin', 'pw') });
    expect(s.isLoggedIn).toBe(true);
  });

  it('ends with the server error when it refuses a stage, holding no token and emitting nothing', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE)
      .post('/_matrix/client/v3/register')
      .reply(401, { ...uia({ session: 'S' }), flows: [{ stages: ['m.login.registration_token'] }] });
    nock(BASE)
      .post('/_matrix/client/v3/register')
      .reply(401, { flows: [{ stages: ['m.login.registration_token'] }], session: 'S', errcode: 'M_FORBIDDEN', error: 'Invalid token' });
    const error = await failure(s.account.register({ username: 'a', auth: { 'm.login.registration_token': Auth.registrationToken('bad') } }));
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 401, errcode: 'M_FORBIDDEN', isUserInteractiveAuth: true });
    expect(s.isLoggedIn).toBe(false);
    expect(seen).toEqual([]);
  });

  it('throws the challenge when no flow can be answered', async () => {
    const flows = [{ stages: ['m.login.email.identity'] }];
    nock(BASE).post('/_matrix/client/v3/register', { username: 'a' }).reply(401, { session: 'S', flows, params: {} });
    const error = await failure(session(false).account.register({ username: 'a', auth: {} }));
    expect(error).toMatchObject({ isUserInteractiveAuth: true, body: { session: 'S', flows } });
  });

  it('passes a non-UIA error through (400 M_USER_IN_USE)', async () => {
    nock(BASE).post('/_matrix/client/v3/register').reply(400, { errcode: 'M_USER_IN_USE', error: 'User ID already taken.' });
    await expect(session(false).account.register({ username: 'alice' })).rejects.toMatchObject({ errcode: 'M_USER_IN_USE', httpStatus: 400 });
  });

  it('refuses bad options before any request', async () => {
    const s = session(false);
    await expectInvalid(() => s.account.register(null as unknown as object), 'opts');
    await expectInvalid(() => s.account.register({ username: '' }), 'username');
    await expectInvalid(() => s.account.register({ username: 'a\u0000b' }), 'username');
    await expectInvalid(() => s.account.register({ password: 5 as unknown as string }), 'password');
    await expectInvalid(() => s.account.register({ inhibitLogin: 1 as unknown as boolean }), 'inhibitLogin');
    await expectInvalid(() => s.account.register({ deviceId: '' }), 'deviceId');
    await expectInvalid(() => s.account.register({ auth: 'm.login.dummy' as unknown as UiaAuth }), 'auth');
    await expectInvalid(() => s.account.register({ auth: [] as unknown as UiaAuth }), 'auth');
    await expectInvalid(
      () => s.account.register({ auth: { 'm.login.dummy': 'yes' } as unknown as UiaAuth }),
      'auth["m.login.dummy"]',
    );
  });
});

describe('account.registerGuest', () => {
  const GUEST = { user_id: '@42:example.org', device_id: 'guest_device', access_token: 'guest-token' };

  it('POSTs {} to /register?kind=guest without a token and logs in as the guest', async () => {
    const s = session(false);
    const seen = record(s);
    nock(BASE, NO_AUTH).post('/_matrix/client/v3/register', {}).query({ kind: 'guest' }).reply(200, GUEST);
    await expect(s.account.registerGuest()).resolves.toEqual(GUEST);
    expect([s.isLoggedIn, s.userId, s.deviceId, s.getAccessToken()]).toEqual([true, '@42:example.org', 'guest_device', 'guest-token']);
    expect(seen).toEqual([['register', { userId: '@42:example.org', deviceId: 'guest_device', accessToken: 'guest-token' }]]);
  });

  it('sends initial_device_display_name', async () => {
    nock(BASE)
      .post('/_matrix/client/v3/register', { initial_device_display_name: 'Kiosk' })
      .query({ kind: 'guest' })
      .reply(200, GUEST);
    await session(false).account.registerGuest({ initialDeviceDisplayName: 'Kiosk' });
  });

  it('passes on 403 when guests are disabled, staying logged out', async () => {
    const s = session(false);
    nock(BASE).post('/_matrix/client/v3/register').query({ kind: 'guest' }).reply(403, { errcode: 'M_UNKNOWN', error: 'Guest access is disabled' });
    await expect(s.account.registerGuest()).rejects.toMatchObject({ httpStatus: 403 });
    expect(s.isLoggedIn).toBe(false);
  });

  it('refuses bad options before any request', async () => {
    await expectInvalid(() => session(false).account.registerGuest({ initialDeviceDisplayName: '' }), 'initialDeviceDisplayName');
    await expectInvalid(() => session(false).account.registerGuest('x' as unknown as object), 'opts');
  });
});

describe('account.isUsernameAvailable', () => {
  it('GETs /register/available?username=… without a token and returns true', async () => {
    nock(BASE, NO_AUTH).get('/_matrix/client/v3/register/available').query({ username: 'alice' }).reply(200, { available: true });
    await expect(session().account.isUsernameAvailable('alice')).resolves.toBe(true);
  });

  it('encodes the name as one query value', async () => {
    nock(BASE).get('/_matrix/client/v3/register/available?username=a%26b%3Dc%20d').reply(200, { available: true });
    await expect(session(false).account.isUsernameAvailable('a&b=c d')).resolves.toBe(true);
  });

  it('returns false on 400 M_USER_IN_USE', async () => {
    nock(BASE).get('/_matrix/client/v3/register/available').query({ username: 'taken' }).reply(400, { errcode: 'M_USER_IN_USE', error: 'taken' });
    await expect(session(false).account.isUsernameAvailable('taken')).resolves.toBe(false);
  });

  it('throws M_INVALID_USERNAME (and other refusals) as a MatrixError', async () => {
    nock(BASE).get('/_matrix/client/v3/register/available').query({ username: 'UPPER' }).reply(400, { errcode: 'M_INVALID_USERNAME', error: 'bad' });
    const error = await failure(session(false).account.isUsernameAvailable('UPPER'));
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ errcode: 'M_INVALID_USERNAME', httpStatus: 400 });
    nock(BASE).get('/_matrix/client/v3/register/available').query({ username: 'as_x' }).reply(400, { errcode: 'M_EXCLUSIVE', error: 'reserved' });
    await expect(session(false).account.isUsernameAvailable('as_x')).rejects.toMatchObject({ errcode: 'M_EXCLUSIVE' });
  });

  it('rejects a 200 without "available" rather than guessing', async () => {
    nock(BASE).get('/_matrix/client/v3/register/available').query({ username: 'x' }).reply(200, {});
    await expect(session(false).account.isUsernameAvailable('x')).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('refuses an empty or non-string name before any request', async () => {
    await expectInvalid(() => session(false).account.isUsernameAvailable(''), 'username');
    await expectInvalid(() => session(false).account.isUsernameAvailable(undefined as unknown as string), 'username');
  });
});

describe('account.whoami', () => {
  it('GETs /account/whoami with the token', async () => {
    const me = { user_id: ME, device_id: 'DEV', is_guest: false };
    nock(BASE, AUTH).get('/_matrix/client/v3/account/whoami').reply(200, me);
    await expect(session().account.whoami()).resolves.toEqual(me);
  });

  it('teaches a session resumed from a bare token its user and device IDs', async () => {
    const s = session(false, { accessToken: TOKEN });
    expect(s.userId).toBeUndefined();
    nock(BASE, AUTH).get('/_matrix/client/v3/account/whoami').reply(200, { user_id: ME, device_id: 'DEV' });
    await s.account.whoami();
    expect([s.userId, s.deviceId]).toEqual([ME, 'DEV']);
  });

  it('does not overwrite a user ID the session already holds', async () => {
    const s = session();
    nock(BASE).get('/_matrix/client/v3/account/whoami').reply(200, { user_id: '@other:example.org' });
    await s.account.whoami();
    expect(s.userId).toBe(ME);
  });

  it('needs a token, and a user_id in the reply', async () => {
    await expect(session(false).account.whoami()).rejects.toBeInstanceOf(NotLoggedInError);
    nock(BASE).get('/_matrix/client/v3/account/whoami').reply(200, { device_id: 'DEV' });
    await expect(session().account.whoami()).rejects.toBeInstanceOf(InvalidResponseError);
  });
});

describe('account.changePassword', () => {
  it('POSTs new_password, logout_devices and the auth answer with the token, in one round trip', async () => {
    const s = session();
    nock(BASE, AUTH)
      .post('/_matrix/client/v3/account/password', json({ new_password: 'new pw', logout_devices: false, auth: Auth.password(ME, 'old') }))
      .reply(200, {});
    await expect(s.account.changePassword('new pw', Auth.password(ME, 'old'), { logoutDevices: false })).resolves.toBeUndefined();
    expect(s.getAccessToken()).toBe(TOKEN);
  });

  it('leaves logout_devices to the server default when not given', async () => {
    nock(BASE)
      .post('/_matrix/client/v3/account/password', json({ new_password: 'n', logout_devices: true, auth: Auth.password('alice', 'o') }))
      .reply(200, {});
    await session().account.changePassword('n', Auth.password('alice', 'o'), { logoutDevices: true });
    nock(BASE).post('/_matrix/client/v3/account/password', json({ new_password: 'n', auth: Auth.password('alice', 'o') })).reply(200, {});
    await session().account.changePassword('n', Auth.password('alice', 'o'));
  });

  it('repeats the answer with the session the server opened', async () => {
    nock(BASE).post('/_matrix/client/v3/account/password').reply(401, { session: 'P', flows: [{ stages: ['m.login.password'] }], params: {} });
    nock(BASE)
      .post('/_matrix/client/v3/account/password', { new_password: 'n', auth: { ...Auth.password('alice', 'o'), session: 'P' } })
      .reply(200, {});
    await session().account.changePassword('n', Auth.password('alice', 'o'));
  });

  it('ends with M_FORBIDDEN when the old password is wrong', async () => {
    nock(BASE)
      .post('/_matrix/client/v3/account/password')
      .reply(401, { session: 'P', flows: [{ stages: ['m.login.password'] }], params: {}, completed: [], errcode: 'M_FORBIDDEN', error: 'Invalid password' });
    await expect(session().account.changePassword('n', Auth.password('alice', 'bad'))).rejects.toMatchObject({
      errcode: 'M_FORBIDDEN',
      httpStatus: 401,
    });
  });

  it('works without a token (a reset by email): no Authorization header', async () => {
    const creds = { sid: 'sid1', clientSecret: 'secret.1' };
    nock(BASE, NO_AUTH)
      .post('/_matrix/client/v3/account/password', {
        new_password: 'n',
        auth: { type: 'm.login.email.identity', threepid_creds: { sid: 'sid1', client_secret: 'secret.1' } },
      })
      .reply(200, {});
    await session(false).account.changePassword('n', Auth.emailIdentity(creds));
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.account.changePassword('', Auth.password('a', 'b')), 'newPassword');
    await expectInvalid(() => s.account.changePassword('n', undefined as unknown as UiaAuth), 'auth');
    await expectInvalid(() => s.account.changePassword('n', Auth.password('a', 'b'), { logoutDevices: 'no' as unknown as boolean }), 'logoutDevices');
    await expectInvalid(() => s.account.changePassword('n', Auth.password('a', 'b'), null as unknown as object), 'opts');
  });
});

describe('account.deactivate', () => {
  it('POSTs the auth answer, id_server and erase with the token; then forgets the credentials', async () => {
    const s = session();
    const seen = record(s);
    nock(BASE, AUTH)
      .post('/_matrix/client/v3/account/deactivate', json({ auth: Auth.password(ME, 'pw'), id_server: 'id.example.org', erase: true }))
      .reply(200, { id_server_unbind_result: 'success' });
    await expect(s.account.deactivate({ auth: Auth.password(ME, 'pw'), idServer: 'id.example.org', erase: true })).resolves.toEqual({
      id_server_unbind_result: 'success',
    });
    expect(s.isLoggedIn).toBe(false);
    expect(s.userId).toBeUndefined();
    expect(seen).toEqual([['logout', { userId: ME, all: true }]]);
  });

  it('without an answer sends {} and throws the challenge, keeping the session', async () => {
    const s = session();
    const seen = record(s);
    nock(BASE, AUTH).post('/_matrix/client/v3/account/deactivate', {}).reply(401, { session: 'D', flows: [{ stages: ['m.login.password'] }], params: {} });
    await expect(s.account.deactivate()).rejects.toMatchObject({ isUserInteractiveAuth: true });
    expect(s.getAccessToken()).toBe(TOKEN);
    expect(seen).toEqual([]);
  });

  it('answers the challenge from a stage map', async () => {
    nock(BASE).post('/_matrix/client/v3/account/deactivate', {}).reply(401, { session: 'D', flows: [{ stages: ['m.login.password'] }], params: {} });
    nock(BASE)
      .post('/_matrix/client/v3/account/deactivate', { auth: { ...Auth.password('alice', 'pw'), session: 'D' } })
      .reply(200, { id_server_unbind_result: 'no-support' });
    await expect(session().account.deactivate({ auth: { 'm.login.password': Auth.password('alice', 'pw') } })).resolves.toEqual({
      id_server_unbind_result: 'no-support',
    });
  });

  it('refuses bad options before any request', async () => {
    const s = session();
    await expectInvalid(() => s.account.deactivate({ erase: 'yes' as unknown as boolean }), 'erase');
    await expectInvalid(() => s.account.deactivate({ idServer: '' }), 'idServer');
    await expectInvalid(() => s.account.deactivate({ auth: 5 as unknown as UiaAuth }), 'auth');
    await expectInvalid(() => s.account.deactivate(null as unknown as object), 'opts');
    expect(s.isLoggedIn).toBe(true);
  });
});

describe('account.refresh', () => {
  it('POSTs the refresh token (and no access token) to /refresh, adopts the new tokens and emits tokenChanged', async () => {
    const s = session(false, { accessToken: TOKEN, refreshToken: 'r1', userId: ME });
    const seen = record(s);
    nock(BASE, NO_AUTH)
      .post('/_matrix/client/v3/refresh', { refresh_token: 'r1' })
      .reply(200, { access_token: 'a2', refresh_token: 'r2', expires_in_ms: 300_000 });
    await expect(s.account.refresh()).resolves.toBeUndefined();
    expect([s.getAccessToken(), s.getRefreshToken(), s.userId]).toEqual(['a2', 'r2', ME]);
    expect(seen).toEqual([['tokenChanged', { accessToken: 'a2', refreshToken: 'r2', expiresInMs: 300_000 }]]);
  });

  it('keeps the refresh token when the server sends no new one', async () => {
    const s = session(false, { accessToken: TOKEN, refreshToken: 'r1' });
    nock(BASE).post('/_matrix/client/v3/refresh', { refresh_token: 'r1' }).reply(200, { access_token: 'a2' });
    await s.account.refresh();
    expect([s.getAccessToken(), s.getRefreshToken()]).toEqual(['a2', 'r1']);
  });

  it('a refused refresh (401) ends the session with sessionExpired', async () => {
    const s = session(false, { accessToken: TOKEN, refreshToken: 'r1', userId: ME });
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/refresh').reply(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'gone', soft_logout: true });
    await expect(s.account.refresh()).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    expect(s.isLoggedIn).toBe(false);
    expect(s.userId).toBe(ME);
    expect(seen.map(([name, info]) => [name, (info as { softLogout: boolean }).softLogout])).toEqual([['sessionExpired', true]]);
  });

  it('without a refresh token fails at once, sending nothing', async () => {
    const error = await failure(session().account.refresh());
    expect(error).toBeInstanceOf(MatrixSessionError);
  });
});

describe('account.getAccountData / setAccountData', () => {
  it('GETs /user/{me}/account_data/{type}, the type as one encoded segment', async () => {
    nock(BASE, AUTH).get(`/_matrix/client/v3/user/${ME_PATH}/account_data/org.example%2Fa%20b`).reply(200, { x: 1 });
    await expect(session().account.getAccountData<{ x: number }>('org.example/a b')).resolves.toEqual({ x: 1 });
  });

  it('passes on 404 M_NOT_FOUND for an unset type', async () => {
    nock(BASE).get(`/_matrix/client/v3/user/${ME_PATH}/account_data/m.direct`).reply(404, { errcode: 'M_NOT_FOUND', error: 'none' });
    await expect(session().account.getAccountData('m.direct')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('PUTs the content as the body', async () => {
    const content = { '@bob:example.org': ['!r:example.org'] };
    nock(BASE, AUTH).put(`/_matrix/client/v3/user/${ME_PATH}/account_data/m.direct`, content).reply(200, {});
    await expect(session().account.setAccountData('m.direct', content)).resolves.toBeUndefined();
  });

  it('repeats a PUT after a 503 (setting a value is safe to repeat)', async () => {
    nock(BASE).put(`/_matrix/client/v3/user/${ME_PATH}/account_data/org.example.x`).reply(503, {});
    nock(BASE).put(`/_matrix/client/v3/user/${ME_PATH}/account_data/org.example.x`, { a: 1 }).reply(200, {});
    await session(true, { maxRetries: 1 }).account.setAccountData('org.example.x', { a: 1 });
  });

  it('needs a logged-in session', async () => {
    await expect(session(false).account.getAccountData('m.direct')).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(session(false).account.setAccountData('m.direct', {})).rejects.toBeInstanceOf(NotLoggedInError);
  });

  it('refuses bad input before any request, as a rejection', async () => {
    const s = session();
    await expectInvalid(() => s.account.getAccountData(''), 'type');
    await expectInvalid(() => s.account.getAccountData('..'), 'path segment');
    await expectInvalid(() => s.account.setAccountData('', {}), 'type');
    await expectInvalid(() => s.account.setAccountData('m.x', [] as unknown as Record<string, unknown>), 'content');
    await expectInvalid(() => s.account.setAccountData('m.x', null as unknown as Record<string, unknown>), 'content');
  });
});


// A reply whose fields are not what the spec says: an InvalidResponseError, and the session
// keeps what it had (never a malformed identity, never a token it could not send).
describe('reply shapes the session relies on', () => {
  const BAD_USER_IDS: unknown[] = [{ evil: true }, 42, 'alice', '@alice', '', ['@a:example.org'], true];
  const BAD_STRINGS: unknown[] = [5, '', {}, ['x'], false, 'a\nb'];
  const BAD_TOKENS: unknown[] = [5, '', {}, 'has space', 'line\nbreak', 'x'.repeat(5000), 'tøken'];
  const BAD_COUNTS: unknown[] = [-1, 1.5, '300000', {}, true];
  const field = (name: string, bad: unknown[]) => bad.map((value) => [name, value] as const);

  describe('whoami', () => {
    it.each([...field('user_id', BAD_USER_IDS), ...field('device_id', BAD_STRINGS)])(
      '%s = %j → InvalidResponseError; a session resumed from a bare token adopts nothing',
      async (name, value) => {
        const s = session(false, { accessToken: TOKEN });
        nock(BASE).get('/_matrix/client/v3/account/whoami').reply(200, { user_id: ME, device_id: 'DEV', [name]: value });
        const e = await failure(s.account.whoami());
        expect(e).toBeInstanceOf(InvalidResponseError);
        expect((e as InvalidResponseError).reason).toContain(`"${name}"`);
        expect([s.userId, s.deviceId]).toEqual([undefined, undefined]);
        // Later calls are not blamed on the caller: the session simply has no user ID yet.
        await expect(s.account.getAccountData('m.x')).rejects.toBeInstanceOf(NotLoggedInError);
      },
    );

    it('the {"user_id":{"evil":true}} of a hostile server is not adopted, and a good answer afterwards is', async () => {
      const s = session(false, { accessToken: TOKEN });
      nock(BASE).get('/_matrix/client/v3/account/whoami').reply(200, { user_id: { evil: true } });
      await expect(s.account.whoami()).rejects.toBeInstanceOf(InvalidResponseError);
      nock(BASE).get('/_matrix/client/v3/account/whoami').reply(200, { user_id: ME });
      await s.account.whoami();
      expect(s.userId).toBe(ME);
    });
  });

  const LOGIN_CASES = [
    ...field('user_id', BAD_USER_IDS),
    ...field('access_token', BAD_TOKENS),
    ...field('device_id', BAD_STRINGS),
    ...field('refresh_token', BAD_TOKENS),
    ...field('expires_in_ms', BAD_COUNTS),
  ];

  it.each(LOGIN_CASES)('login: %s = %j → InvalidResponseError; a logged-in session keeps its credentials, no event', async (name, value) => {
    const s = session();
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/login').reply(200, { ...LOGIN_OK, refresh_token: 'r-token', expires_in_ms: 60_000, [name]: value });
    const e = await failure(s.account.loginWithPassword('alice', 'pw'));
    expect(e).toBeInstanceOf(InvalidResponseError);
    expect((e as InvalidResponseError).reason).toContain(`"${name}"`);
    expect([s.getAccessToken(), s.getRefreshToken(), s.userId, s.deviceId]).toEqual([TOKEN, undefined, ME, 'DEV']);
    expect(seen).toEqual([]);
  });

  it.each(LOGIN_CASES)('registerGuest: %s = %j → InvalidResponseError; still logged out', async (name, value) => {
    const s = session(false);
    nock(BASE).post('/_matrix/client/v3/register').query({ kind: 'guest' }).reply(200, { ...LOGIN_OK, [name]: value });
    expect(await failure(s.account.registerGuest())).toBeInstanceOf(InvalidResponseError);
    expect([s.isLoggedIn, s.userId]).toEqual([false, undefined]);
  });

  it.each(LOGIN_CASES)('register: %s = %j → InvalidResponseError; still logged out, no event', async (name, value) => {
    const s = session(false);
    const seen = record(s);
    nock(BASE).post('/_matrix/client/v3/register').reply(200, { ...LOGIN_OK, [name]: value });
    expect(await failure(s.account.register({ username: 'alice', password: 'pw' }))).toBeInstanceOf(InvalidResponseError);
    expect([s.isLoggedIn, s.userId]).toEqual([false, undefined]);
    expect(seen).toEqual([]);
  });

  it('optional fields may be absent or null (register with inhibit_login has no token at all)', async () => {
    const s = session(false);
    nock(BASE).post('/_matrix/client/v3/login').reply(200, { ...LOGIN_OK, refresh_token: null, expires_in_ms: null });
    await s.account.loginWithPassword('alice', 'pw');
    expect([s.getAccessToken(), s.getRefreshToken(), s.deviceId]).toEqual(['new-token', undefined, 'NEWDEV']);
    const other = session(false);
    nock(BASE).post('/_matrix/client/v3/register').reply(200, { user_id: ME });
    await expect(other.account.register({ username: 'alice', password: 'pw', inhibitLogin: true })).resolves.toEqual({ user_id: ME });
    expect(other.isLoggedIn).toBe(false);
  });

  it.each([...field('access_token', BAD_TOKENS), ...field('refresh_token', BAD_TOKENS), ...field('expires_in_ms', BAD_COUNTS)])(
    'refresh: %s = %j → InvalidResponseError; the old tokens are kept and the session is not ended',
    async (name, value) => {
      const s = session(true, { refreshToken: 'old-refresh' });
      const seen = record(s);
      nock(BASE).post('/_matrix/client/v3/refresh').reply(200, { access_token: 'next', refresh_token: 'next-r', expires_in_ms: 1000, [name]: value });
      expect(await failure(s.account.refresh())).toBeInstanceOf(InvalidResponseError);
      expect([s.getAccessToken(), s.getRefreshToken()]).toEqual([TOKEN, 'old-refresh']);
      expect(seen).toEqual([]);
    },
  );
});
