// Server information and discovery against the run's Synapse.
import { itEnv } from '../harness/env';
import { anonSession, newUser } from './helpers';

describe('server (Synapse)', () => {
  it('versions lists stable v1.x versions, with or without a token', async () => {
    const anon = await anonSession().server.versions();
    expect(anon.versions.filter((v) => /^v1\.\d+$/.test(v)).length).toBeGreaterThan(0);
    expect(anon.versions).toContain('v1.1');
    const user = await newUser('versions');
    const authed = await user.server.versions();
    expect(authed.versions).toEqual(anon.versions);
    expect(typeof authed.unstable_features).toBe('object');
  });

  it('capabilities says the password can be changed and names the room versions', async () => {
    const s = await newUser('caps');
    const { capabilities } = await s.server.capabilities();
    expect(capabilities['m.change_password']).toEqual({ enabled: true });
    const rooms = capabilities['m.room_versions']!;
    expect(rooms.available[rooms.default]).toBe('stable');
  });

  it('capabilities needs a token', async () => {
    await expect(anonSession().server.capabilities()).rejects.toMatchObject({ name: 'NotLoggedInError' });
  });

  it("discover against the server's own origin: Synapse serves its public_baseurl as the well-known (PROMPT)", async () => {
    const { baseUrl } = itEnv();
    // What the server really serves, read without the SDK.
    const raw = await fetch(`${baseUrl}/.well-known/matrix/client`);
    expect(raw.status).toBe(200);
    const served = (await raw.json()) as { 'm.homeserver': { base_url: string } };
    expect(served['m.homeserver'].base_url).toBe(`${baseUrl}/`);

    const res = await anonSession().server.discover(baseUrl);
    expect(res).toEqual({ state: 'PROMPT', baseUrl, wellKnown: served });
    // The discovered base URL is a working homeserver.
    await expect(anonSession({ baseUrl: res.baseUrl }).server.versions()).resolves.toHaveProperty('versions');
  });
});
