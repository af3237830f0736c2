import nock from 'nock';
import { AbortError, InvalidResponseError, NotLoggedInError } from '../../lib';
import { AUTH, BASE, expectInvalid, guardNock, NO_AUTH, session } from '../helpers/fixtures';

const WELL_KNOWN = '/.well-known/matrix/client';
const VERSIONS = { versions: ['r0.6.1', 'v1.1', 'v1.11'], unstable_features: { 'org.matrix.msc3575': true } };

guardNock();

describe('server.versions', () => {
  it('GETs /_matrix/client/versions (no v3), sending the token when one is held', async () => {
    nock(BASE, AUTH).get('/_matrix/client/versions').reply(200, VERSIONS);
    await expect(session().server.versions()).resolves.toEqual(VERSIONS);
  });

  it('works without a token, sending no Authorization header', async () => {
    nock(BASE, NO_AUTH).get('/_matrix/client/versions').reply(200, { versions: ['v1.1'] });
    await expect(session(false).server.versions()).resolves.toEqual({ versions: ['v1.1'] });
  });

  it('rejects a reply without versions', async () => {
    nock(BASE).get('/_matrix/client/versions').reply(200, { unstable_features: {} });
    await expect(session(false).server.versions()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('is retried after a 503 like any read', async () => {
    const s = session(false, { maxRetries: 1 });
    nock(BASE).get('/_matrix/client/versions').reply(503, 'busy');
    nock(BASE).get('/_matrix/client/versions').reply(200, VERSIONS);
    await expect(s.server.versions()).resolves.toEqual(VERSIONS);
  });
});

describe('server.capabilities', () => {
  it('GETs /_matrix/client/v3/capabilities with the token', async () => {
    const caps = {
      capabilities: {
        'm.change_password': { enabled: true },
        'm.room_versions': { default: '11', available: { '11': 'stable', '12': 'stable' } },
        'org.example.custom': { x: 1 },
      },
    };
    nock(BASE, AUTH).get('/_matrix/client/v3/capabilities').reply(200, caps);
    const res = await session().server.capabilities();
    expect(res).toEqual(caps);
    expect(res.capabilities['m.change_password']?.enabled).toBe(true);
  });

  it('needs a token and a capabilities object', async () => {
    await expect(session(false).server.capabilities()).rejects.toBeInstanceOf(NotLoggedInError);
    nock(BASE).get('/_matrix/client/v3/capabilities').reply(200, {});
    await expect(session().server.capabilities()).rejects.toBeInstanceOf(InvalidResponseError);
  });
});

describe('server.discover', () => {
  const wellKnown = (origin: string, opts = NO_AUTH) => nock(origin, opts).get(WELL_KNOWN);

  it('PROMPT: fetches the well-known over https from the server name, then checks /versions at the base URL', async () => {
    const body = { 'm.homeserver': { base_url: 'https://matrix.example.org/' } };
    wellKnown('https://example.org').reply(200, body);
    nock('https://matrix.example.org', NO_AUTH).get('/_matrix/client/versions').reply(200, VERSIONS);
    await expect(session(false).server.discover('example.org')).resolves.toEqual({
      state: 'PROMPT',
      baseUrl: 'https://matrix.example.org',
      wellKnown: body,
    });
  });

  it('drops the port of the server name (it is for federation) and sends no token anywhere', async () => {
    wellKnown('https://example.org').reply(200, { 'm.homeserver': { base_url: 'https://hs.example.org:8448/matrix/' } });
    nock('https://hs.example.org:8448', NO_AUTH).get('/matrix/_matrix/client/versions').reply(200, VERSIONS);
    const res = await session().server.discover('example.org:8448');
    expect(res).toMatchObject({ state: 'PROMPT', baseUrl: 'https://hs.example.org:8448/matrix' });
  });

  it("defaults to the logged-in user's server name", async () => {
    wellKnown('https://users.example.net').reply(200, { 'm.homeserver': { base_url: 'https://hs.example.org' } });
    nock('https://hs.example.org').get('/_matrix/client/versions').reply(200, VERSIONS);
    await expect(session(true, { userId: '@alice:users.example.net:8448' }).server.discover()).resolves.toMatchObject({ state: 'PROMPT' });
  });

  it('accepts a full http(s) origin, e.g. a local test server', async () => {
    wellKnown('http://127.0.0.1:8008').reply(200, { 'm.homeserver': { base_url: 'http://127.0.0.1:8008' } });
    nock('http://127.0.0.1:8008').get('/_matrix/client/versions').reply(200, VERSIONS);
    await expect(session(false).server.discover('http://127.0.0.1:8008/')).resolves.toMatchObject({
      state: 'PROMPT',
      baseUrl: 'http://127.0.0.1:8008',
    });
  });

  it('follows a redirect of the well-known', async () => {
    wellKnown('https://example.org').reply(302, '', { Location: 'https://www.example.org/.well-known/matrix/client' });
    wellKnown('https://www.example.org').reply(200, { 'm.homeserver': { base_url: 'https://hs.example.org' } });
    nock('https://hs.example.org').get('/_matrix/client/versions').reply(200, VERSIONS);
    await expect(session(false).server.discover('example.org')).resolves.toMatchObject({ state: 'PROMPT' });
  });

  it('IGNORE on 404 (whatever the body)', async () => {
    wellKnown('https://example.org').reply(404, '<html>Not found</html>');
    const res = await session(false).server.discover('example.org');
    expect(res.state).toBe('IGNORE');
    expect(res.baseUrl).toBeUndefined();
  });

  it.each([
    ['the body is not JSON', () => wellKnown('https://example.org').reply(200, '{"m.homeserver": {')],
    ['the body is a JSON array', () => wellKnown('https://example.org').reply(200, [])],
    ['m.homeserver is missing', () => wellKnown('https://example.org').reply(200, { 'm.identity_server': { base_url: 'https://id' } })],
    ['base_url is missing', () => wellKnown('https://example.org').reply(200, { 'm.homeserver': {} })],
    ['base_url is not a string', () => wellKnown('https://example.org').reply(200, { 'm.homeserver': { base_url: 42 } })],
    ['the empty body', () => wellKnown('https://example.org').reply(200, '')],
    ['a 500', () => wellKnown('https://example.org').reply(500, { errcode: 'M_UNKNOWN' })],
    ['a 403', () => wellKnown('https://example.org').reply(403, 'Forbidden')],
  ])('FAIL_PROMPT when %s', async (_what, reply) => {
    reply();
    const res = await session(false).server.discover('example.org');
    expect(res.state).toBe('FAIL_PROMPT');
    expect(res.reason).toEqual(expect.any(String));
    expect(res.baseUrl).toBeUndefined();
  });

  it.each(['not a url', 'ftp://hs.example.org', 'https://hs.example.org/?x=1', '/relative'])(
    'FAIL_ERROR when base_url is %j',
    async (baseUrl) => {
      wellKnown('https://example.org').reply(200, { 'm.homeserver': { base_url: baseUrl } });
      const res = await session(false).server.discover('example.org');
      expect(res).toMatchObject({ state: 'FAIL_ERROR', reason: expect.stringContaining('base_url') });
    },
  );

  it.each([
    ['404', () => nock('https://hs.example.org').get('/_matrix/client/versions').reply(404, { errcode: 'M_UNRECOGNIZED' })],
    ['an HTML page', () => nock('https://hs.example.org').get('/_matrix/client/versions').reply(200, '<html></html>')],
    ['a reply without versions', () => nock('https://hs.example.org').get('/_matrix/client/versions').reply(200, {})],
    ['versions that are not a list', () => nock('https://hs.example.org').get('/_matrix/client/versions').reply(200, { versions: 'v1.1' })],
    ['nothing in time', () => nock('https://hs.example.org').get('/_matrix/client/versions').delay(500).reply(200, VERSIONS)],
  ])("FAIL_ERROR when the base URL's /versions answers %s", async (_what, reply) => {
    wellKnown('https://example.org').reply(200, { 'm.homeserver': { base_url: 'https://hs.example.org' } });
    reply();
    const res = await session(false).server.discover('example.org', { timeoutMs: 100 });
    expect(res).toMatchObject({ state: 'FAIL_ERROR', baseUrl: 'https://hs.example.org', reason: expect.stringContaining('/versions') });
  });

  describe('identity server', () => {
    const withIs = (is: unknown) => {
      wellKnown('https://example.org').reply(200, { 'm.homeserver': { base_url: 'https://hs.example.org' }, 'm.identity_server': is });
      nock('https://hs.example.org').get('/_matrix/client/versions').reply(200, VERSIONS);
    };

    it('PROMPT with identityServerUrl when it answers /_matrix/identity/v2', async () => {
      withIs({ base_url: 'https://id.example.org/' });
      nock('https://id.example.org', NO_AUTH).get('/_matrix/identity/v2').reply(200, {});
      await expect(session().server.discover('example.org')).resolves.toMatchObject({
        state: 'PROMPT',
        baseUrl: 'https://hs.example.org',
        identityServerUrl: 'https://id.example.org',
      });
    });

    it('FAIL_PROMPT when m.identity_server has no base_url', async () => {
      withIs({});
      await expect(session(false).server.discover('example.org')).resolves.toMatchObject({ state: 'FAIL_PROMPT' });
    });

    it('FAIL_ERROR when its base_url is not a URL, or it does not answer', async () => {
      withIs({ base_url: 'nope' });
      await expect(session(false).server.discover('example.org')).resolves.toMatchObject({ state: 'FAIL_ERROR' });
      withIs({ base_url: 'https://id.example.org' });
      nock('https://id.example.org').get('/_matrix/identity/v2').reply(404, 'no');
      await expect(session(false).server.discover('example.org')).resolves.toMatchObject({
        state: 'FAIL_ERROR',
        identityServerUrl: 'https://id.example.org',
      });
    });
  });

  it('throws AbortError when cancelled instead of reporting a discovery state', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(session(false).server.discover('example.org', { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
  });

  it('refuses a bad server name, or none without a logged-in user, before any request', async () => {
    const s = session(false);
    await expectInvalid(() => s.server.discover(), 'serverName');
    await expectInvalid(() => s.server.discover('exa mple.org'), 'serverName');
    await expectInvalid(() => s.server.discover('example.org/path'), 'serverName');
    await expectInvalid(() => s.server.discover(''), 'serverName');
    await expectInvalid(() => s.server.discover('https://example.org/some/path'), 'serverName');
    await expectInvalid(() => s.server.discover(42 as unknown as string), 'serverName');
  });
});
