import nock from 'nock';
import { Auth, generateClientSecret, MatrixError, Threepid } from '../../lib';
import { AUTH, BASE, expectInvalid, guardNock, ME, NO_AUTH, session } from '../helpers/fixtures';

const SECRET = 'monkeys_are_GREAT-1.0=';

guardNock();

describe('generateClientSecret', () => {
  it('returns a fresh secret the spec grammar accepts, as a function and as a static', () => {
    const secrets = new Set<string>();
    for (let i = 0; i < 200; i++) secrets.add(i % 2 ? generateClientSecret() : Threepid.generateClientSecret());
    expect(secrets.size).toBe(200);
    for (const s of secrets) expect(s).toMatch(/^[0-9a-zA-Z.=_-]{32}$/);
  });
});

describe('threepid.list', () => {
  it('GETs /account/3pid with the token and returns the threepids', async () => {
    const threepids = [{ medium: 'email', address: 'a@example.org', validated_at: 1, added_at: 2 }];
    nock(BASE, AUTH).get('/_matrix/client/v3/account/3pid').reply(200, { threepids });
    await expect(session().threepid.list()).resolves.toEqual(threepids);
  });

  it('returns [] when the server leaves the (optional) array out', async () => {
    nock(BASE, AUTH).get('/_matrix/client/v3/account/3pid').reply(200, {});
    await expect(session().threepid.list()).resolves.toEqual([]);
  });

  it('needs a logged-in session and sends nothing without one', async () => {
    await expect(session(false).threepid.list()).rejects.toMatchObject({ name: 'NotLoggedInError' });
  });
});

describe('threepid.add', () => {
  const PATH = '/_matrix/client/v3/account/3pid/add';
  const challenge = { session: 'uia-1', flows: [{ stages: ['m.login.password'] }], params: {} };
  const password = Auth.password(ME, 'pw');
  // The wire format, spelled out independently of the builder.
  const passwordWire = { type: 'm.login.password', identifier: { type: 'm.id.user', user: ME }, password: 'pw' };

  it('sends a ready AuthDict with the first request', async () => {
    nock(BASE, AUTH).post(PATH, { client_secret: SECRET, sid: 'sid1', auth: passwordWire }).reply(200, {});
    await expect(session().threepid.add(SECRET, 'sid1', password)).resolves.toBeUndefined();
  });

  it('answers the 401 challenge from a stage map, adding the UIA session', async () => {
    nock(BASE, AUTH).post(PATH, { client_secret: SECRET, sid: 'sid1' }).reply(401, challenge);
    nock(BASE, AUTH).post(PATH, { client_secret: SECRET, sid: 'sid1', auth: { ...passwordWire, session: 'uia-1' } }).reply(200, {});
    await session().threepid.add(SECRET, 'sid1', { 'm.login.password': password });
  });

  it('without auth, surfaces the server\'s 401 UIA challenge as a MatrixError after one request', async () => {
    nock(BASE, AUTH).post(PATH, { client_secret: SECRET, sid: 'sid1' }).reply(401, challenge);
    const error = await session().threepid.add(SECRET, 'sid1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as MatrixError).httpStatus).toBe(401);
    expect((error as MatrixError).isUserInteractiveAuth).toBe(true);
    expect((error as MatrixError).message).not.toContain(SECRET);
  });

  it('is not retried after a 503 (adding is not safe to repeat blindly)', async () => {
    nock(BASE).post(PATH).reply(503, { errcode: 'M_UNKNOWN', error: 'busy' });
    await expect(session(true, { maxRetries: 2 }).threepid.add(SECRET, 'sid1', password)).rejects.toMatchObject({ httpStatus: 503 });
  });

  it('refuses bad input before any request, never echoing the secret', async () => {
    const s = session();
    const e = await expectInvalid(() => s.threepid.add('has space', 'sid1', password), 'clientSecret');
    expect(e.message).not.toContain('has space');
    await expectInvalid(() => s.threepid.add('', 'sid1'), 'clientSecret');
    await expectInvalid(() => s.threepid.add('a'.repeat(256), 'sid1'), 'clientSecret');
    await expectInvalid(() => s.threepid.add('a/b', 'sid1'), 'clientSecret');
    await expectInvalid(() => s.threepid.add(SECRET, 'sid 1'), 'sid');
    await expectInvalid(() => s.threepid.add(SECRET, 'sid1', 'password' as never), 'auth');
  });
});

describe('threepid.bind', () => {
  it('POSTs {client_secret, id_server, id_access_token, sid} with the token', async () => {
    nock(BASE, AUTH)
      .post('/_matrix/client/v3/account/3pid/bind', { client_secret: SECRET, id_server: 'id.example.org:8090', id_access_token: 'ist', sid: 'sid1' })
      .reply(200, {});
    await expect(session().threepid.bind(SECRET, 'id.example.org:8090', 'ist', 'sid1')).resolves.toBeUndefined();
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.threepid.bind('bad secret', 'id.example.org', 'ist', 'sid1'), 'clientSecret');
    await expectInvalid(() => s.threepid.bind(SECRET, 'https://id.example.org', 'ist', 'sid1'), 'idServer');
    await expectInvalid(() => s.threepid.bind(SECRET, 'id.example.org/x', 'ist', 'sid1'), 'idServer');
    await expectInvalid(() => s.threepid.bind(SECRET, 'id.example.org', '', 'sid1'), 'idAccessToken');
    await expectInvalid(() => s.threepid.bind(SECRET, 'id.example.org', 'ist', ''), 'sid');
  });
});

describe.each([
  ['delete', '/_matrix/client/v3/account/3pid/delete'],
  ['unbind', '/_matrix/client/v3/account/3pid/unbind'],
] as const)('threepid.%s', (method, PATH) => {
  it('POSTs {medium, address} and returns the typed result', async () => {
    nock(BASE, AUTH).post(PATH, { medium: 'email', address: 'a@example.org' }).reply(200, { id_server_unbind_result: 'no-support' });
    await expect(session().threepid[method]('email', 'a@example.org')).resolves.toEqual({ id_server_unbind_result: 'no-support' });
  });

  it('sends id_server when given', async () => {
    nock(BASE, AUTH).post(PATH, { medium: 'msisdn', address: '447700900001', id_server: 'id.example.org' }).reply(200, { id_server_unbind_result: 'success' });
    await expect(session().threepid[method]('msisdn', '447700900001', { idServer: 'id.example.org' })).resolves.toEqual({
      id_server_unbind_result: 'success',
    });
  });

  it('rejects a 2xx body without id_server_unbind_result', async () => {
    nock(BASE).post(PATH).reply(200, {});
    await expect(session().threepid[method]('email', 'a@example.org')).rejects.toMatchObject({ name: 'InvalidResponseError' });
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.threepid[method]('phone' as never, 'a@example.org'), 'medium');
    await expectInvalid(() => s.threepid[method]('email', ''), 'address');
    await expectInvalid(() => s.threepid[method]('email', 'a@example.org', { idServer: 'not a host' }), 'idServer');
    await expectInvalid(() => s.threepid[method]('email', 'a@example.org', null as never), 'opts');
  });
});

type EmailMethod = 'requestAccountEmailToken' | 'requestRegistrationEmailToken' | 'requestPasswordEmailToken';
type MsisdnMethod = 'requestAccountMsisdnToken' | 'requestRegistrationMsisdnToken' | 'requestPasswordMsisdnToken';

describe.each([
  ['requestAccountEmailToken', '/_matrix/client/v3/account/3pid/email/requestToken'],
  ['requestRegistrationEmailToken', '/_matrix/client/v3/register/email/requestToken'],
  ['requestPasswordEmailToken', '/_matrix/client/v3/account/password/email/requestToken'],
] as [EmailMethod, string][])('threepid.%s', (method, PATH) => {
  it('POSTs {client_secret, email, send_attempt} with no Authorization header, even when logged in', async () => {
    nock(BASE, NO_AUTH).post(PATH, { client_secret: SECRET, email: 'a@example.org', send_attempt: 1 }).reply(200, { sid: 'abc' });
    await expect(session().threepid[method](SECRET, 'a@example.org', 1)).resolves.toEqual({ sid: 'abc' });
  });

  it('sends next_link and returns submit_url', async () => {
    const res = { sid: 'abc', submit_url: 'https://hs.example.org/submit' };
    nock(BASE, NO_AUTH)
      .post(PATH, { client_secret: SECRET, email: 'a@example.org', send_attempt: 3, next_link: 'https://app.example.org/done?x=1' })
      .reply(200, res);
    await expect(session(false).threepid[method](SECRET, 'a@example.org', 3, { nextLink: 'https://app.example.org/done?x=1' })).resolves.toEqual(res);
  });

  it('is retried after a 503 (the server does not resend for a send_attempt it has seen)', async () => {
    nock(BASE).post(PATH).reply(503, {});
    nock(BASE).post(PATH).reply(200, { sid: 'abc' });
    await expect(session(false, { maxRetries: 1 }).threepid[method](SECRET, 'a@example.org', 1)).resolves.toEqual({ sid: 'abc' });
  });

  it('rejects a 2xx body without sid; surfaces a MatrixError without the secret in its message', async () => {
    nock(BASE).post(PATH).reply(200, {});
    await expect(session().threepid[method](SECRET, 'a@example.org', 1)).rejects.toMatchObject({ name: 'InvalidResponseError' });
    nock(BASE).post(PATH).reply(400, { errcode: 'M_THREEPID_IN_USE', error: 'in use' });
    const error = (await session().threepid[method](SECRET, 'a@example.org', 1).catch((e: unknown) => e)) as MatrixError;
    expect(error).toMatchObject({ errcode: 'M_THREEPID_IN_USE', httpStatus: 400 });
    expect(error.message).not.toContain(SECRET);
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.threepid[method]('bad secret!', 'a@example.org', 1), 'clientSecret');
    await expectInvalid(() => s.threepid[method](SECRET, 'not-an-email', 1), 'email');
    await expectInvalid(() => s.threepid[method](SECRET, 'a@example.org', 0), 'sendAttempt');
    await expectInvalid(() => s.threepid[method](SECRET, 'a@example.org', 1.5), 'sendAttempt');
    await expectInvalid(() => s.threepid[method](SECRET, 'a@example.org', '1' as never), 'sendAttempt');
    await expectInvalid(() => s.threepid[method](SECRET, 'a@example.org', 1, { nextLink: 'javascript:alert(1)' }), 'nextLink');
    await expectInvalid(() => s.threepid[method](SECRET, 'a@example.org', 1, { nextLink: 'not a url' }), 'nextLink');
    await expectInvalid(() => s.threepid[method](SECRET, 'a@example.org', 1, null as never), 'opts');
  });
});

describe.each([
  ['requestAccountMsisdnToken', '/_matrix/client/v3/account/3pid/msisdn/requestToken'],
  ['requestRegistrationMsisdnToken', '/_matrix/client/v3/register/msisdn/requestToken'],
  ['requestPasswordMsisdnToken', '/_matrix/client/v3/account/password/msisdn/requestToken'],
] as [MsisdnMethod, string][])('threepid.%s', (method, PATH) => {
  it('POSTs {client_secret, country, phone_number, send_attempt, next_link} with no Authorization header', async () => {
    nock(BASE, NO_AUTH)
      .post(PATH, { client_secret: SECRET, country: 'GB', phone_number: '07700 900001', send_attempt: 2, next_link: 'http://app.example.org/' })
      .reply(200, { sid: 'xyz', submit_url: 'https://hs.example.org/submit' });
    await expect(session().threepid[method](SECRET, 'GB', '07700 900001', 2, { nextLink: 'http://app.example.org/' })).resolves.toEqual({
      sid: 'xyz',
      submit_url: 'https://hs.example.org/submit',
    });
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.threepid[method]('', 'GB', '07700900001', 1), 'clientSecret');
    await expectInvalid(() => s.threepid[method](SECRET, 'gb', '07700900001', 1), 'country');
    await expectInvalid(() => s.threepid[method](SECRET, 'XX', '07700900001', 1), 'country');
    await expectInvalid(() => s.threepid[method](SECRET, 'GBR', '07700900001', 1), 'country');
    await expectInvalid(() => s.threepid[method](SECRET, 'GB', 'call me', 1), 'phone');
    await expectInvalid(() => s.threepid[method](SECRET, 'GB', '', 1), 'phone');
    await expectInvalid(() => s.threepid[method](SECRET, 'GB', '07700900001', -1), 'sendAttempt');
  });
});
