// Tests of the harness itself (Synapse + SMTP sink + admin helpers), with plain fetch only.
import { randomBytes } from 'node:crypto';
import { overrideRatelimit, registerWithSharedSecret } from '../harness/admin';
import { extractLink, itEnv, uniqueName, waitForMail } from '../harness/env';

const env = itEnv();
const CS = `${env.baseUrl}/_matrix/client/v3`;

async function req(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* HTML pages stay text */ }
  return { status: res.status, json };
}

describe('integration harness', () => {
  it('serves /versions with at least one v1.x spec version', async () => {
    const { status, json } = await req('GET', `${env.baseUrl}/_matrix/client/versions`);
    expect(status).toBe(200);
    expect(json.versions).toEqual(expect.arrayContaining([expect.stringMatching(/^v1\.\d+$/)]));
  });

  it('registers a user with m.login.dummy and the token works', async () => {
    const username = uniqueName('dummy');
    const reg = await req('POST', `${CS}/register`, { username, password: 'pw-123456', auth: { type: 'm.login.dummy' } });
    expect(reg.status).toBe(200);
    expect(reg.json.user_id).toBe(`@${username}:${env.serverName}`);
    const who = await req('GET', `${CS}/account/whoami`, undefined, reg.json.access_token);
    expect(who).toEqual({ status: 200, json: expect.objectContaining({ user_id: reg.json.user_id }) });
  });

  it('delivers the registration email; following its link validates the session', async () => {
    const email = `${uniqueName('mail')}@example.org`;
    const client_secret = randomBytes(12).toString('hex');
    const since = Date.now();
    const tok = await req('POST', `${CS}/register/email/requestToken`, { client_secret, email, send_attempt: 1 });
    expect(tok.status).toBe(200);
    const sid: string = tok.json.sid;

    const creds = { type: 'm.login.email.identity', threepid_creds: { sid, client_secret } };
    const username = uniqueName('mailer');
    // Not yet validated: registration with the email stage is refused.
    const early = await req('POST', `${CS}/register`, { username, password: 'pw-123456', auth: creds });
    expect(early.status).toBe(401);

    const mail = await waitForMail(email.toUpperCase(), { since }); // address match is case-insensitive
    expect(mail.to).toContain(email);
    expect(mail.subject).toMatch(/validate your email/i);
    const link = extractLink(mail.text);
    expect(link.origin).toBe(env.baseUrl); // public_baseurl is what the links are built from
    expect(link.searchParams.get('sid')).toBe(sid);
    expect(link.searchParams.get('client_secret')).toBe(client_secret);

    const page = await fetch(`${env.baseUrl}${link.pathname}${link.search}`);
    expect(page.status).toBe(200);

    const reg = await req('POST', `${CS}/register`, { username, password: 'pw-123456', auth: creds });
    expect(reg.status).toBe(200);
    const threepids = await req('GET', `${CS}/account/3pid`, undefined, reg.json.access_token);
    expect(threepids.json.threepids).toEqual([expect.objectContaining({ medium: 'email', address: email })]);
  });

  it('registers an admin with the shared secret; only its token passes admin APIs', async () => {
    const admin = await registerWithSharedSecret(env.baseUrl, env.sharedSecret,
      { username: uniqueName('admin'), password: 'pw-123456', admin: true });
    const user = await registerWithSharedSecret(env.baseUrl, env.sharedSecret,
      { username: uniqueName('plain'), password: 'pw-123456', admin: false });
    const url = `${env.baseUrl}/_synapse/admin/v2/users/${encodeURIComponent(admin.user_id)}`;

    const asAdmin = await req('GET', url, undefined, admin.access_token);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.json).toEqual(expect.objectContaining({ name: admin.user_id, admin: true }));
    const asUser = await req('GET', url, undefined, user.access_token);
    expect(asUser.status).toBe(403);

    const set = await overrideRatelimit(env.baseUrl, admin.access_token, user.user_id, { messagesPerSecond: 2, burstCount: 3 });
    expect(set).toEqual({ messages_per_second: 2, burst_count: 3 });
  });

  it('rejects a shared-secret registration with the wrong secret', async () => {
    await expect(registerWithSharedSecret(env.baseUrl, 'not-the-secret', { username: uniqueName('bad'), password: 'x' }))
      .rejects.toThrow(/HTTP 403/);
  });
});
