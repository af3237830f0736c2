import nock from 'nock';
import { MatrixError } from '../../lib';
import { AUTH, BASE, expectInvalid, guardNock, ME, NO_AUTH, session, TOKEN } from '../helpers/fixtures';

guardNock();

describe('profile.get', () => {
  it('GETs /profile/{userId} with the user ID as one encoded segment, sending the token when held', async () => {
    const body = { displayname: 'Alice', avatar_url: 'mxc://example.org/abc', 'm.tz': 'Europe/Paris', 'org.example.x': 1 };
    nock(BASE, AUTH).get('/_matrix/client/v3/profile/%40alice%3Aexample.org').reply(200, body);
    await expect(session().profile.get(ME)).resolves.toEqual(body);
  });

  it('sends no Authorization header when the session has no token', async () => {
    nock(BASE, NO_AUTH).get('/_matrix/client/v3/profile/%40bob%2Fx%3Aexample.org').reply(200, {});
    await expect(session(false).profile.get('@bob/x:example.org')).resolves.toEqual({});
  });

  it('throws the server error (404) as a MatrixError', async () => {
    nock(BASE).get('/_matrix/client/v3/profile/%40nobody%3Aexample.org').reply(404, { errcode: 'M_NOT_FOUND', error: 'Profile not found' });
    const error = await session().profile.get('@nobody:example.org').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
  });

  it('refuses a malformed user ID before any request', async () => {
    await expectInvalid(() => session().profile.get('alice'), 'userId');
    await expectInvalid(() => session().profile.get('@alice:exa mple.org'), 'userId');
  });
});

describe('profile.getDisplayName / getAvatarUrl / getField', () => {
  it('returns the display name', async () => {
    nock(BASE, AUTH).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname').reply(200, { displayname: 'Alice' });
    await expect(session().profile.getDisplayName(ME)).resolves.toBe('Alice');
  });

  it('returns undefined when the display name is absent from a 200 or answered with 404 M_NOT_FOUND', async () => {
    nock(BASE, NO_AUTH).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname').reply(200, {});
    await expect(session(false).profile.getDisplayName(ME)).resolves.toBeUndefined();
    nock(BASE).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname').reply(404, { errcode: 'M_NOT_FOUND', error: 'x' });
    await expect(session().profile.getDisplayName(ME)).resolves.toBeUndefined();
  });

  it('returns the avatar URL, or undefined when unset', async () => {
    nock(BASE, AUTH).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/avatar_url').reply(200, { avatar_url: 'mxc://example.org/abc' });
    await expect(session().profile.getAvatarUrl(ME)).resolves.toBe('mxc://example.org/abc');
    nock(BASE).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/avatar_url').reply(200, {});
    await expect(session().profile.getAvatarUrl(ME)).resolves.toBeUndefined();
  });

  it('getField returns any JSON value of a custom key', async () => {
    nock(BASE, AUTH).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/org.example.fav').reply(200, { 'org.example.fav': { a: [1] } });
    await expect(session().profile.getField(ME, 'org.example.fav')).resolves.toEqual({ a: [1] });
  });

  it('rethrows errors other than "not set": 403, and 404 M_UNRECOGNIZED from a server without generic fields', async () => {
    nock(BASE).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/m.tz').reply(403, { errcode: 'M_FORBIDDEN', error: 'no' });
    await expect(session().profile.getField(ME, 'm.tz')).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
    nock(BASE).get('/_matrix/client/v3/profile/%40alice%3Aexample.org/m.tz').reply(404, { errcode: 'M_UNRECOGNIZED', error: 'no' });
    await expect(session().profile.getField(ME, 'm.tz')).rejects.toMatchObject({ errcode: 'M_UNRECOGNIZED', httpStatus: 404 });
  });

  it('refuses bad user IDs and keys outside the spec grammar before any request', async () => {
    const s = session();
    await expectInvalid(() => s.profile.getDisplayName('nope'), 'userId');
    await expectInvalid(() => s.profile.getAvatarUrl(''), 'userId');
    for (const key of ['Bad.Key', 'nodot', 'org..x', '../x', 'org.example/x', '', 'a.' + 'b'.repeat(260)]) {
      await expectInvalid(() => s.profile.getField(ME, key), 'key');
    }
  });
});

describe('profile setters', () => {
  it('setDisplayName PUTs {displayname} with the token', async () => {
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname', { displayname: 'Alice W.' }).reply(200, {});
    await expect(session().profile.setDisplayName(ME, 'Alice W.')).resolves.toBeUndefined();
  });

  it('setDisplayName accepts an empty name (clears it)', async () => {
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname', { displayname: '' }).reply(200, {});
    await session().profile.setDisplayName(ME, '');
  });

  it('setDisplayName is retried after a transient 503 (setting a value is safe to repeat)', async () => {
    nock(BASE).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname').reply(503, {});
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname', { displayname: 'A' }).reply(200, {});
    await session(true, { maxRetries: 1 }).profile.setDisplayName(ME, 'A');
  });

  it('setAvatarUrl PUTs {avatar_url}', async () => {
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/avatar_url', { avatar_url: 'mxc://example.org/Abc_1-2' }).reply(200, {});
    await session().profile.setAvatarUrl(ME, 'mxc://example.org/Abc_1-2');
  });

  it("setDisplayName and setAvatarUrl without a user ID set the session user's own, with per-request options", async () => {
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname', { displayname: 'Bot' }).reply(200, {});
    await session().profile.setDisplayName('Bot');
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/avatar_url', { avatar_url: 'mxc://example.org/a1' }).reply(200, {});
    await session().profile.setAvatarUrl('mxc://example.org/a1', { timeoutMs: 5_000 });
    // A name that looks like a user ID is still a name when it comes alone.
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname', { displayname: '@bob:example.org' }).reply(200, {});
    await session().profile.setDisplayName('@bob:example.org', {});
    await expect(session(false).profile.setDisplayName('Bot')).rejects.toMatchObject({ name: 'NotLoggedInError' });
    await expectInvalid(() => session().profile.setAvatarUrl('https://example.org/a.png'), 'avatarUrl');
  });

  it('setField PUTs a custom key with a JSON value; deleteField DELETEs it', async () => {
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/org.example.fav', { 'org.example.fav': [1, 'x'] }).reply(200, {});
    await session().profile.setField(ME, 'org.example.fav', [1, 'x']);
    nock(BASE, AUTH).put('/_matrix/client/v3/profile/%40alice%3Aexample.org/m.tz', { 'm.tz': 'Europe/Paris' }).reply(200, {});
    await session().profile.setField(ME, 'm.tz', 'Europe/Paris');
    nock(BASE, AUTH).delete('/_matrix/client/v3/profile/%40alice%3Aexample.org/org.example.fav').reply(200, {});
    await expect(session().profile.deleteField(ME, 'org.example.fav')).resolves.toBeUndefined();
  });

  it('needs a logged-in session', async () => {
    await expect(session(false).profile.setDisplayName(ME, 'x')).rejects.toMatchObject({ name: 'NotLoggedInError' });
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.profile.setDisplayName('alice', 'x'), 'userId');
    await expectInvalid(() => s.profile.setDisplayName(ME, 'line\nbreak'), 'displayName');
    await expectInvalid(() => s.profile.setDisplayName(ME, 42 as unknown as string), 'displayName');
    await expectInvalid(() => s.profile.setAvatarUrl(ME, 'https://example.org/a.png'), 'avatarUrl');
    await expectInvalid(() => s.profile.setAvatarUrl(ME, 'mxc://example.org/a/b'), 'avatarUrl');
    await expectInvalid(() => s.profile.setField(ME, 'avatar_url', 'notmxc'), 'avatarUrl');
    await expectInvalid(() => s.profile.setField(ME, 'Bad', 1), 'key');
    await expectInvalid(() => s.profile.setField(ME, 'org.example.x', undefined), 'value');
    await expectInvalid(() => s.profile.setField(ME, 'm.tz', 3), 'timeZone');
    await expectInvalid(() => s.profile.deleteField(ME, 'org'), 'key');
    await expectInvalid(() => s.profile.deleteField('!room:example.org', 'displayname'), 'userId');
  });
});

describe('profile.searchUsers', () => {
  const results = { results: [{ user_id: '@bob:example.org', display_name: 'Bob', avatar_url: 'mxc://example.org/b' }], limited: false };

  it('POSTs {search_term, limit} with the token and the Accept-Language header', async () => {
    nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'accept-language': 'de-DE, en;q=0.5' } })
      .post('/_matrix/client/v3/user_directory/search', { search_term: 'bob', limit: 5 })
      .reply(200, results);
    await expect(session().profile.searchUsers('bob', { limit: 5, language: 'de-DE, en;q=0.5' })).resolves.toEqual(results);
  });

  it('sends only search_term and no Accept-Language when no options are given', async () => {
    nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}` }, badheaders: ['accept-language'] })
      .post('/_matrix/client/v3/user_directory/search', { search_term: 'bob' })
      .reply(200, { results: [], limited: true });
    await expect(session().profile.searchUsers('bob')).resolves.toEqual({ results: [], limited: true });
  });

  it('is retried after a 503 like a read', async () => {
    nock(BASE).post('/_matrix/client/v3/user_directory/search').reply(503, {});
    nock(BASE).post('/_matrix/client/v3/user_directory/search').reply(200, results);
    await expect(session(true, { maxRetries: 1 }).profile.searchUsers('bob')).resolves.toEqual(results);
  });

  it('rejects a 2xx body without results as an InvalidResponseError', async () => {
    nock(BASE).post('/_matrix/client/v3/user_directory/search').reply(200, { limited: false });
    await expect(session().profile.searchUsers('bob')).rejects.toMatchObject({ name: 'InvalidResponseError' });
  });

  it('refuses bad input before any request', async () => {
    const s = session();
    await expectInvalid(() => s.profile.searchUsers(''), 'term');
    await expectInvalid(() => s.profile.searchUsers(7 as unknown as string), 'term');
    await expectInvalid(() => s.profile.searchUsers('bob', { limit: 0 }), 'limit');
    await expectInvalid(() => s.profile.searchUsers('bob', { limit: 2.5 }), 'limit');
    await expectInvalid(() => s.profile.searchUsers('bob', { language: 'en\r\nX-Evil: 1' }), 'language');
    await expectInvalid(() => s.profile.searchUsers('bob', { language: '' }), 'language');
    await expectInvalid(() => s.profile.searchUsers('bob', null as unknown as object), 'opts');
  });
});
