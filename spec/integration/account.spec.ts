// The auth lifecycle against a real Synapse: what the server did is read back through
// another call or another session, never assumed from our own state.
import { Auth, MatrixError, MatrixSession, type SessionEvents } from '../../lib';
import { itEnv, uniqueName } from '../harness/env';
import { anonSession, newUser, PASSWORD } from './helpers';

type Recorded = Array<[keyof SessionEvents, unknown]>;
function record(s: MatrixSession): Recorded {
  const seen: Recorded = [];
  for (const name of ['login', 'register', 'logout', 'tokenChanged', 'sessionExpired', 'listenerError'] as const) {
    s.on(name, (info: unknown) => void seen.push([name, info]));
  }
  return seen;
}
const names = (seen: Recorded) => seen.map(([name]) => name);

/** A second session holding the same token, as an app restarted from storage would. */
function sameToken(s: MatrixSession): MatrixSession {
  return new MatrixSession({ baseUrl: itEnv().baseUrl, accessToken: s.getAccessToken()!, userId: s.userId, deviceId: s.deviceId });
}

const localpart = (userId: string) => userId.slice(1, userId.indexOf(':'));

async function loginAs(userId: string, password = PASSWORD, opts = {}): Promise<MatrixSession> {
  const s = anonSession();
  await s.account.loginWithPassword(localpart(userId), password, opts);
  return s;
}

/** Expects the call to fail with 401 M_UNKNOWN_TOKEN and the session to report it exactly once. */
async function expectTokenRefused(s: MatrixSession): Promise<void> {
  const seen = record(s);
  const error = await s.account.whoami().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(MatrixError);
  expect(error).toMatchObject({ httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN' });
  expect(names(seen)).toEqual(['sessionExpired']);
  expect(seen[0][1]).toMatchObject({ softLogout: false, error });
  expect(s.isLoggedIn).toBe(false);
}

describe('account (Synapse)', () => {
  it('loginFlows lists m.login.password', async () => {
    const { flows } = await anonSession().account.loginFlows();
    expect(flows.map((f) => f.type)).toContain('m.login.password');
  });

  it('registers with the dummy stage: the name is taken afterwards, whoami names the user, one register event', async () => {
    const username = uniqueName('reg');
    const s = anonSession();
    const seen = record(s);
    await expect(s.account.isUsernameAvailable(username)).resolves.toBe(true);

    const res = await s.account.register({ username, password: PASSWORD, initialDeviceDisplayName: 'it-device' });
    const userId = `@${username}:${itEnv().serverName}`;
    expect(res.user_id).toBe(userId);
    expect([s.isLoggedIn, s.userId, s.deviceId]).toEqual([true, userId, res.device_id]);
    expect(seen).toEqual([['register', expect.objectContaining({ userId, deviceId: res.device_id, accessToken: s.getAccessToken() })]]);

    await expect(anonSession().account.isUsernameAvailable(username)).resolves.toBe(false);
    const me = await s.account.whoami();
    expect(me).toMatchObject({ user_id: userId, device_id: s.deviceId });
    expect(me.is_guest).toBeFalsy();
  });

  it('isUsernameAvailable throws M_INVALID_USERNAME for a name Synapse cannot use', async () => {
    const error = await anonSession().account.isUsernameAvailable('Not Valid!').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 400, errcode: 'M_INVALID_USERNAME' });
  });

  it('registering a taken name fails with M_USER_IN_USE and leaves the session logged out', async () => {
    const taken = await newUser('taken');
    const s = anonSession();
    const seen = record(s);
    await expect(s.account.register({ username: localpart(taken.userId!), password: PASSWORD })).rejects.toMatchObject({
      errcode: 'M_USER_IN_USE',
    });
    expect(s.isLoggedIn).toBe(false);
    expect(seen).toEqual([]);
  });

  it('registers a guest: whoami says is_guest', async () => {
    const s = anonSession();
    const seen = record(s);
    const res = await s.account.registerGuest({ initialDeviceDisplayName: 'guest' });
    expect(s.isLoggedIn).toBe(true);
    expect(names(seen)).toEqual(['register']);
    const me = await s.account.whoami();
    expect(me).toMatchObject({ user_id: res.user_id, is_guest: true });
  });

  it('inhibitLogin creates the account without a token; logging in to it then works', async () => {
    const username = uniqueName('inhibit');
    const s = anonSession();
    const seen = record(s);
    const res = await s.account.register({ username, password: PASSWORD, inhibitLogin: true });
    expect(res.access_token).toBeUndefined();
    expect([s.isLoggedIn, s.getAccessToken(), s.userId]).toEqual([false, undefined, undefined]);
    expect(seen).toEqual([['register', expect.objectContaining({ userId: res.user_id })]]);
    await expect(s.account.whoami()).rejects.toMatchObject({ name: 'NotLoggedInError' });

    const other = anonSession();
    const otherSeen = record(other);
    await other.account.loginWithPassword(username, PASSWORD);
    expect(names(otherSeen)).toEqual(['login']);
    await expect(other.account.whoami()).resolves.toMatchObject({ user_id: res.user_id });
  });

  it('logs in with a password (localpart or user ID), and again on the same device when asked', async () => {
    const owner = await newUser('login');
    const userId = owner.userId!;

    const s = anonSession();
    const seen = record(s);
    const first = await s.account.loginWithPassword(localpart(userId), PASSWORD);
    expect(first.user_id).toBe(userId);
    expect(first.device_id).not.toBe(owner.deviceId);
    expect(seen).toEqual([['login', expect.objectContaining({ userId, deviceId: first.device_id, accessToken: first.access_token })]]);
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: userId, device_id: first.device_id });

    const again = anonSession();
    const res = await again.account.login(Auth.password(userId, PASSWORD), { deviceId: first.device_id });
    expect(res.device_id).toBe(first.device_id);
    expect(res.access_token).not.toBe(first.access_token);
    await expect(again.account.whoami()).resolves.toMatchObject({ user_id: userId, device_id: first.device_id });
  });

  it('a wrong password is refused with 403 M_FORBIDDEN and the session stays logged out', async () => {
    const owner = await newUser('wrongpw');
    const s = anonSession();
    const seen = record(s);
    await expect(s.account.loginWithPassword(localpart(owner.userId!), 'not-the-password')).rejects.toMatchObject({
      httpStatus: 403,
      errcode: 'M_FORBIDDEN',
    });
    expect(s.isLoggedIn).toBe(false);
    expect(seen).toEqual([]);
  });

  it('logout invalidates the token: another session holding it gets 401 and emits sessionExpired once', async () => {
    const s = await newUser('logout');
    const twin = sameToken(s);
    await expect(twin.account.whoami()).resolves.toMatchObject({ user_id: s.userId });

    const seen = record(s);
    const userId = s.userId;
    await s.account.logout();
    expect(seen).toEqual([['logout', { userId, all: false }]]);
    expect(s.isLoggedIn).toBe(false);

    await expectTokenRefused(twin);
    // The user and device IDs stay after the token is refused, for a login to the same device.
    expect(twin.userId).toBe(userId);
  });

  it('logoutAll ends every session of the user, and only that user', async () => {
    const a = await newUser('logoutall');
    const b = await loginAs(a.userId!);
    const aTwin = sameToken(a);
    const stranger = await newUser('stranger');

    const seen = record(a);
    await a.account.logoutAll();
    expect(seen).toEqual([['logout', { userId: b.userId, all: true }]]);

    await expectTokenRefused(b);
    await expectTokenRefused(aTwin);
    await expect(stranger.account.whoami()).resolves.toMatchObject({ user_id: stranger.userId });
  });

  it('changePassword with Auth.password: the old password is refused, the new one works, other devices are logged out', async () => {
    const s = await newUser('chpw');
    const userId = s.userId!;
    const other = await loginAs(userId);
    const seen = record(s);
    const newPassword = `${PASSWORD}-2`;

    await s.account.changePassword(newPassword, Auth.password(userId, PASSWORD));
    expect(seen).toEqual([]);
    // Synapse keeps the device that made the change; logout_devices (default true) ends the others.
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: userId });
    await expectTokenRefused(other);

    await expect(loginAs(userId, PASSWORD)).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
    await expect(loginAs(userId, newPassword)).resolves.toMatchObject({ userId });
  });

  it('changePassword with logoutDevices: false keeps the other devices', async () => {
    const s = await newUser('chpwkeep');
    const userId = s.userId!;
    const other = await loginAs(userId);
    await s.account.changePassword(`${PASSWORD}-3`, Auth.password(localpart(userId), PASSWORD), { logoutDevices: false });
    await expect(other.account.whoami()).resolves.toMatchObject({ user_id: userId });
    await expect(loginAs(userId, `${PASSWORD}-3`)).resolves.toMatchObject({ userId });
  });

  it('changePassword with a wrong current password ends with M_FORBIDDEN and changes nothing', async () => {
    const s = await newUser('chpwbad');
    const userId = s.userId!;
    const error = await s.account.changePassword('whatever-new', Auth.password(userId, 'wrong')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 401, errcode: 'M_FORBIDDEN' });
    await expect(loginAs(userId, PASSWORD)).resolves.toMatchObject({ userId });
  });

  it('deactivate: the session is logged out, its token is dead, and logging in is refused', async () => {
    const s = await newUser('deact');
    const userId = s.userId!;
    const twin = sameToken(s);
    const seen = record(s);

    // Nothing was bound on an identity server, so there was nothing to fail: "success".
    await expect(s.account.deactivate({ auth: Auth.password(userId, PASSWORD) })).resolves.toEqual({ id_server_unbind_result: 'success' });
    expect(seen).toEqual([['logout', { userId, all: true }]]);
    expect(s.isLoggedIn).toBe(false);

    await expectTokenRefused(twin);
    // Synapse removes the password hash on deactivation, so the password check fails first:
    // 403 M_FORBIDDEN, not M_USER_DEACTIVATED (which it sends only past a successful check).
    const error = await loginAs(userId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
  });

  it('deactivate without an answer throws the UIA challenge and keeps the account', async () => {
    const s = await newUser('deactnoauth');
    const error = await s.account.deactivate().catch((e: unknown) => e);
    expect(error).toMatchObject({ httpStatus: 401, isUserInteractiveAuth: true });
    expect((error as MatrixError).body.flows).toEqual(expect.arrayContaining([{ stages: ['m.login.password'] }]));
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: s.userId });
  });

  it('account data: set in one session, read back from another of the same user', async () => {
    const s = await newUser('acctdata');
    const other = await loginAs(s.userId!);
    const type = `org.example.it.${uniqueName('t').replace(/-/g, '_')}`;
    await expect(other.account.getAccountData(type)).rejects.toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });

    const content = { nested: { list: [1, 'two', null], flag: true }, unicode: 'héllo ✓' };
    await s.account.setAccountData(type, content);
    await expect(other.account.getAccountData(type)).resolves.toEqual(content);

    await s.account.setAccountData(type, { replaced: 1 });
    await expect(other.account.getAccountData(type)).resolves.toEqual({ replaced: 1 });
  });

  it('refresh: a login with refreshToken gets one; refresh() swaps the access token and emits tokenChanged once', async () => {
    const owner = await newUser('refresh');
    const s = anonSession();
    const res = await s.account.loginWithPassword(localpart(owner.userId!), PASSWORD, { refreshToken: true });
    expect(res.refresh_token).toEqual(expect.any(String));
    expect(res.expires_in_ms).toEqual(expect.any(Number));
    const before = s.getAccessToken();
    const seen = record(s);

    await s.account.refresh();
    expect(s.getAccessToken()).not.toBe(before);
    expect(seen).toEqual([['tokenChanged', expect.objectContaining({ accessToken: s.getAccessToken() })]]);
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: owner.userId });
  });
});
