// Server information and discovery against the run's Synapse, and a Synapse behind a
// reverse-proxy path.
import { MatrixSession, ValidationError } from '../../lib';
import { itEnv, uniqueName } from '../harness/env';
import { startFaultProxy } from '../harness/fault-proxy';
import { anonSession, catchError, newUser, PASSWORD } from './helpers';

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

  it('a homeserver behind a reverse-proxy path (https://host/matrix): every call goes under the prefix', async () => {
    // The proxy strips "/matrix" before forwarding, and answers 404 to anything outside it.
    const proxy = await startFaultProxy(itEnv().baseUrl, { pathPrefix: '/matrix' });
    const sessions: MatrixSession[] = [];
    try {
      const s = new MatrixSession({ baseUrl: `${proxy.url}/matrix/` });
      sessions.push(s);
      expect(s.baseUrl).toBe(`${proxy.url}/matrix`);
      await s.account.register({ username: uniqueName('prefixed'), password: PASSWORD });
      await expect(s.account.whoami()).resolves.toMatchObject({ user_id: s.userId });
      const { room_id: roomId } = await s.rooms.create({});
      const { event_id: eventId } = await s.rooms.sendText(roomId, 'through the prefix');
      const page = await s.rooms.messages(roomId, { dir: 'b', limit: 10 });
      expect(page.chunk.map((e) => e.event_id)).toContain(eventId);
      expect(proxy.counters.notFound).toBe(0);
      expect(proxy.seen.length).toBeGreaterThanOrEqual(5);
      expect(proxy.seen.every((r) => r.path.startsWith('/matrix/_matrix/client/'))).toBe(true);

      // Without the prefix the same proxy refuses: the prefix is what made the calls work.
      const bare = new MatrixSession({ baseUrl: proxy.url, accessToken: s.getAccessToken() });
      sessions.push(bare);
      expect((await catchError(bare.account.whoami())).httpStatus).toBe(404);
      expect(proxy.counters.notFound).toBe(1);

      // A base URL with a query (which would have sent "/?x=/_matrix/…") is refused before any request.
      const before = proxy.counters.requests;
      expect(() => new MatrixSession({ baseUrl: `${proxy.url}/matrix/?x=` })).toThrow(ValidationError);
      expect(proxy.counters.requests).toBe(before);
    } finally {
      await Promise.all(sessions.map((x) => x.close()));
      await proxy.close();
    }
  });
});
