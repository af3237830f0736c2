import { Auth, generateClientSecret, MatrixError, type MatrixSession } from '../../lib';
import { extractLink, itEnv, uniqueName, waitForMail, type SunkMail } from '../harness/env';
import { anonSession, catchError, newUser, PASSWORD } from './helpers';

jest.setTimeout(60_000);

/** A unique address; `example.org` because the SDK's email check wants a TLD. */
const newEmail = (prefix: string): string => `${uniqueName(prefix)}@example.org`;

/** The link's path and query on the test server (independent of Synapse's public_baseurl). */
function onServer(link: URL): string {
  return itEnv().baseUrl + link.pathname + link.search;
}

/** Checks that a validation mail's link belongs to this sid and client secret, and returns it. */
function linkOf(mail: SunkMail, sid: string, clientSecret: string, path: string): URL {
  const link = extractLink(mail.text);
  expect(link.pathname).toBe(path);
  expect(link.searchParams.get('sid')).toBe(sid);
  expect(link.searchParams.get('client_secret')).toBe(clientSecret);
  expect(link.searchParams.get('token')).toMatch(/^[A-Za-z]{32}$/);
  return link;
}

/** Follows a register / add-threepid validation link as a mail client would (GET). */
async function followLink(link: URL): Promise<void> {
  const res = await fetch(onServer(link), { redirect: 'manual' });
  expect(res.status).toBe(200);
}

/** Flow (2): validates a new address by mail and adds it to the logged-in user's account. */
async function addEmail(s: MatrixSession, email: string): Promise<void> {
  const clientSecret = generateClientSecret();
  const since = Date.now();
  const { sid } = await s.threepid.requestAccountEmailToken(clientSecret, email, 1);
  const mail = await waitForMail(email, { since });
  expect(mail.subject).toMatch(/Validate your email/);
  await followLink(linkOf(mail, sid, clientSecret, '/_matrix/client/unstable/add_threepid/email/submit_token'));
  await s.threepid.add(clientSecret, sid, Auth.password(s.userId!, PASSWORD));
}

describe('threepid (Synapse, real mails)', () => {
  it('(1) registers with an email validated through the m.login.email.identity stage; the address is the account\'s 3PID', async () => {
    const s = anonSession();
    const email = newEmail('reg');
    const clientSecret = generateClientSecret();
    const since = Date.now();
    const { sid } = await s.threepid.requestRegistrationEmailToken(clientSecret, email, 1);
    expect(sid).toMatch(/^[0-9a-zA-Z.=_-]{1,255}$/);

    const mail = await waitForMail(email, { since });
    expect(mail.subject).toMatch(/Validate your email/);
    const link = linkOf(mail, sid, clientSecret, '/_matrix/client/unstable/registration/email/submit_token');
    await followLink(link);

    const username = uniqueName('reg');
    const res = await s.account.register({
      username,
      password: PASSWORD,
      // Stage map: only the email stage has an answer, so the [m.login.email.identity] flow is the one run.
      auth: { 'm.login.email.identity': Auth.emailIdentity({ sid, clientSecret }) },
    });
    expect(res.user_id).toBe(`@${username}:${itEnv().serverName}`);
    const threepids = await s.threepid.list();
    expect(threepids).toEqual([{ medium: 'email', address: email, validated_at: expect.any(Number), added_at: expect.any(Number) }]);
  });

  it('(2) adds an email after registration (UIA with the password), lists it, deletes it', async () => {
    const s = await newUser('add');
    const email = newEmail('add');
    expect(await s.threepid.list()).toEqual([]);

    const clientSecret = generateClientSecret();
    const since = Date.now();
    const { sid } = await s.threepid.requestAccountEmailToken(clientSecret, email, 1);
    const mail = await waitForMail(email, { since });
    const link = linkOf(mail, sid, clientSecret, '/_matrix/client/unstable/add_threepid/email/submit_token');

    // Before the link is followed the session is not validated: after UIA, Synapse refuses.
    const early = await catchError(s.threepid.add(clientSecret, sid, Auth.password(s.userId!, PASSWORD)));
    expect(early).toMatchObject({ httpStatus: 400, errcode: 'M_THREEPID_AUTH_FAILED' });
    await followLink(link);

    // Without auth the server's UIA challenge surfaces as it is.
    const challenge = await catchError(s.threepid.add(clientSecret, sid));
    expect(challenge.httpStatus).toBe(401);
    expect(challenge.isUserInteractiveAuth).toBe(true);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    // A wrong password is refused inside UIA.
    const wrong = await catchError(s.threepid.add(clientSecret, sid, Auth.password(s.userId!, 'not-the-password')));
    expect(wrong).toMatchObject({ httpStatus: 401, errcode: 'M_FORBIDDEN' });
    expect(await s.threepid.list()).toEqual([]);

    await s.threepid.add(clientSecret, sid, Auth.password(s.userId!, PASSWORD));
    expect(await s.threepid.list()).toEqual([{ medium: 'email', address: email, validated_at: expect.any(Number), added_at: expect.any(Number) }]);

    // The address now belongs to someone: requesting it again for another account is refused.
    const other = await newUser('add');
    const inUse = await catchError(other.threepid.requestAccountEmailToken(generateClientSecret(), email, 1));
    expect(inUse).toMatchObject({ httpStatus: 400, errcode: 'M_THREEPID_IN_USE' });

    await expect(s.threepid.delete('email', email)).resolves.toEqual({ id_server_unbind_result: 'no-support' });
    expect(await s.threepid.list()).toEqual([]);
  });

  it('(3) bind/unbind without an identity server, and the msisdn requestToken calls, give Synapse\'s errors', async () => {
    const s = await newUser('isrv');
    const email = newEmail('isrv');

    // Synapse proxies bind to https://<id_server>; 127.0.0.0/8 is IP-blocklisted, and the
    // resulting error escapes its handler as a 500.
    const bind = await catchError(s.threepid.bind(generateClientSecret(), '127.0.0.1:1', 'not-a-real-token', 'sid123'));
    expect(bind).toMatchObject({ httpStatus: 500, errcode: 'M_UNKNOWN' });

    // No id_server and no recorded binding: nothing to unbind.
    await expect(s.threepid.unbind('email', email)).resolves.toEqual({ id_server_unbind_result: 'no-support' });
    // A blocklisted id_server is refused before any connection.
    const unbind = await catchError(s.threepid.unbind('email', email, { idServer: '127.0.0.1:1' }));
    expect(unbind).toMatchObject({ httpStatus: 403, errcode: 'M_UNKNOWN', error: 'IP address blocked' });

    const msisdn = [generateClientSecret(), 'GB', '07700900001', 1] as const;
    const account = await catchError(s.threepid.requestAccountMsisdnToken(...msisdn));
    expect(account).toMatchObject({ httpStatus: 400, errcode: 'M_THREEPID_MEDIUM_NOT_SUPPORTED' });
    const registration = await catchError(anonSession().threepid.requestRegistrationMsisdnToken(...msisdn));
    expect(registration).toMatchObject({ httpStatus: 400, errcode: 'M_UNKNOWN' });
    expect(registration.error).toMatch(/phone number is not supported/);
    // Synapse has no servlet for this one.
    const password = await catchError(anonSession().threepid.requestPasswordMsisdnToken(...msisdn));
    expect(password).toMatchObject({ httpStatus: 404, errcode: 'M_UNRECOGNIZED' });

    // Password reset for an address no account has.
    const unknown = await catchError(anonSession().threepid.requestPasswordEmailToken(generateClientSecret(), newEmail('nobody'), 1));
    expect(unknown).toMatchObject({ httpStatus: 400, errcode: 'M_THREEPID_NOT_FOUND' });
  });

  it('(4) resets the password by email: old password refused, new one works, other sessions are logged out', async () => {
    const owner = await newUser('reset');
    const userId = owner.userId!;
    const email = newEmail('reset');
    await addEmail(owner, email);

    const other = anonSession();
    await other.account.loginWithPassword(userId, PASSWORD);
    const expired: Array<{ softLogout: boolean; error: MatrixError }> = [];
    other.on('sessionExpired', (info) => expired.push(info));

    const resetter = anonSession();
    const clientSecret = generateClientSecret();
    const since = Date.now();
    const { sid } = await resetter.threepid.requestPasswordEmailToken(clientSecret, email, 1);
    const mail = await waitForMail(email, { since });
    expect(mail.subject).toMatch(/Password reset/);
    const link = linkOf(mail, sid, clientSecret, '/_synapse/client/password_reset/email/submit_token');

    // GET only shows a confirmation page whose form POSTs; the session is not validated yet.
    const page = await fetch(onServer(link));
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/method="post"/i);
    const newPassword = `${PASSWORD}-${uniqueName('new')}`;
    const early = await catchError(resetter.account.changePassword(newPassword, Auth.emailIdentity({ sid, clientSecret })));
    expect(early).toMatchObject({ httpStatus: 401, errcode: 'M_UNAUTHORIZED', error: 'Unable to get validated threepid' });

    const confirm = await fetch(onServer(link), { method: 'POST' });
    expect(confirm.status).toBe(200);
    await resetter.account.changePassword(newPassword, Auth.emailIdentity({ sid, clientSecret }));

    const oldLogin = await catchError(anonSession().account.loginWithPassword(userId, PASSWORD));
    expect(oldLogin).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
    const fresh = anonSession();
    await fresh.account.loginWithPassword(userId, newPassword);
    expect((await fresh.account.whoami()).user_id).toBe(userId);

    // logout_devices defaults to true: the other device's token is dead.
    const refused = await catchError(other.account.whoami());
    expect(refused).toMatchObject({ httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN' });
    expect(expired).toHaveLength(1);
    expect(expired[0].error.errcode).toBe('M_UNKNOWN_TOKEN');
    expect(other.isLoggedIn).toBe(false);

    // The validation session is single-use.
    const reused = await catchError(anonSession().account.changePassword(`${newPassword}-2`, Auth.emailIdentity({ sid, clientSecret })));
    expect(reused).toMatchObject({ httpStatus: 401, errcode: 'M_UNAUTHORIZED', error: 'Unable to get validated threepid' });
  });
});
