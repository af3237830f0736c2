// Hostile input through the public methods: odd IDs and keys must reach exactly the endpoint
// meant (checked on the raw, still-encoded path), and replies that are not what the spec says
// must come back as typed errors, never as a crash or an undefined result.
import nock from 'nock';
import { InvalidResponseError, MatrixError, MatrixSession, ValidationError } from '../../lib';
import { notEncrypted } from '../helpers/fixtures';

const BASE = 'http://hs.test';
const V3 = '/_matrix/client/v3';
const e = encodeURIComponent;
const ME = '@me/../x:hs.test'; // a legal user ID with a slash and dots in its localpart

function session(): MatrixSession {
  return new MatrixSession({ baseUrl: BASE, accessToken: 'tok', userId: ME, deviceId: 'D', backoffBaseMs: 1, backoffMaxMs: 2, maxRetries: 0 });
}

/** An interceptor that matches only this exact raw path (and query): no decoding, no normalising. */
function exact(method: string, raw: string, reply: unknown = {}) {
  const seen: string[] = [];
  const scope = nock(BASE)
    .intercept((uri) => {
      seen.push(uri);
      return uri === raw;
    }, method)
    .reply(200, reply as nock.Body);
  return { scope, seen };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (err: Error) => err,
  );
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

const HOSTILE_KEYS = ['a/b', '../../admin', 'a/../b', '?x=1', '#frag', '50%', '%2F', 'ключ/🔑', 'a..b', '...', ' spaced key '];

describe('odd IDs and keys reach the right endpoint', () => {
  it.each(HOSTILE_KEYS)('rooms.stateEvent with state key %j', async (key) => {
    const raw = `${V3}/rooms/${e('!r:hs')}/state/${e('m.custom/type?')}/${e(key)}`;
    const { scope } = exact('GET', raw, { value: key });
    await expect(session().rooms.stateEvent('!r:hs', 'm.custom/type?', key)).resolves.toEqual({ value: key });
    expect(scope.isDone()).toBe(true);
  });

  it.each(HOSTILE_KEYS)('rooms.sendStateEvent with state key %j', async (key) => {
    const raw = `${V3}/rooms/${e('!r:hs')}/state/m.x/${e(key)}`;
    const { scope } = exact('PUT', raw, { event_id: '$e' });
    await session().rooms.sendStateEvent({ roomId: '!r:hs', type: 'm.x', stateKey: key, content: { k: key } });
    expect(scope.isDone()).toBe(true);
  });

  it('an empty state key ends the path with a slash', async () => {
    const { scope } = exact('GET', `${V3}/rooms/${e('!r:hs')}/state/m.room.name/`, { name: 'n' });
    await session().rooms.stateEvent('!r:hs', 'm.room.name', '');
    expect(scope.isDone()).toBe(true);
  });

  it.each(['.', '..'])('a state key of exactly %j cannot be addressed: ValidationError, nothing sent', async (key) => {
    const err = await rejection(session().rooms.stateEvent('!r:hs', 'm.x', key));
    expect(err).toBeInstanceOf(ValidationError);
    const err2 = await rejection(session().rooms.sendStateEvent({ roomId: '!r:hs', type: 'm.x', stateKey: key, content: {} }));
    expect(err2).toBeInstanceOf(ValidationError);
  });

  it.each([
    ['a room ID with / ? # %', '!a/b?c#d%e:hs', '$plain'],
    ['an event ID with / + =', '!r:hs', '$ab/cd+ef='],
    ['non-ASCII in both', '!ключ:hs', '$🔑'],
    ['dots inside segments', '!..:hs', '$../..'],
  ])('rooms.event with %s', async (_what, roomId, eventId) => {
    const raw = `${V3}/rooms/${e(roomId)}/event/${e(eventId)}`;
    const { scope } = exact('GET', raw, { event_id: eventId, type: 'm.room.message' });
    await expect(session().rooms.event(roomId, eventId)).resolves.toMatchObject({ event_id: eventId });
    expect(scope.isDone()).toBe(true);
  });

  it('rooms.resolveAlias with / ? # % and non-ASCII in the alias', async () => {
    const alias = '#a/b?c#d%ü:hs';
    const { scope } = exact('GET', `${V3}/directory/room/${e(alias)}`, { room_id: '!r:hs', servers: ['hs'] });
    await session().rooms.resolveAlias(alias);
    expect(scope.isDone()).toBe(true);
  });

  it('rooms.join with a hostile alias and repeated via servers', async () => {
    const alias = '#../admin?x:hs';
    const { scope } = exact('POST', `${V3}/join/${e(alias)}?via=a.org&via=b.org%3A8448`, { room_id: '!r:hs' });
    await session().rooms.join(alias, { via: ['a.org', 'b.org:8448'] });
    expect(scope.isDone()).toBe(true);
  });

  it('rooms.sendEvent with / in the event type and the transaction ID', async () => {
    notEncrypted('!r:hs', BASE);
    const { scope } = exact('PUT', `${V3}/rooms/${e('!r:hs')}/send/${e('org.x/y')}/${e('t/../1?')}`, { event_id: '$e' });
    await session().rooms.sendEvent({ roomId: '!r:hs', type: 'org.x/y', content: { a: 1 }, txnId: 't/../1?' });
    expect(scope.isDone()).toBe(true);
  });

  it('rooms.redact with a hostile event ID and transaction ID', async () => {
    const { scope } = exact('PUT', `${V3}/rooms/${e('!r:hs')}/redact/${e('$e/f')}/${e('x?y#z')}`, { event_id: '$r' });
    await session().rooms.redact('!r:hs', '$e/f', { txnId: 'x?y#z' });
    expect(scope.isDone()).toBe(true);
  });

  it('profile.getDisplayName for a user ID with / and ..', async () => {
    const { scope } = exact('GET', `${V3}/profile/${e('@../../admin:hs')}/displayname`, { displayname: 'x' });
    await expect(session().profile.getDisplayName('@../../admin:hs')).resolves.toBe('x');
    expect(scope.isDone()).toBe(true);
  });

  it('account.getAccountData: the own user ID and an odd type, each one segment', async () => {
    const { scope } = exact('GET', `${V3}/user/${e(ME)}/account_data/${e('x/y?z#%')}`, { a: 1 });
    await session().account.getAccountData('x/y?z#%');
    expect(scope.isDone()).toBe(true);
  });

  it('rooms.messages: odd pagination tokens stay inside the query', async () => {
    const from = 's1_2&dir=f#x';
    const { scope } = exact('GET', `${V3}/rooms/${e('!r:hs')}/messages?from=${e(from)}&dir=b&limit=5`, { start: 's', chunk: [] });
    await session().rooms.messages('!r:hs', { from, limit: 5 });
    expect(scope.isDone()).toBe(true);
  });
});

describe('replies that are not what the spec says', () => {
  type Call = [name: string, method: string, pathStart: string, call: (s: MatrixSession) => Promise<unknown>];
  const CALLS: Call[] = [
    ['account.whoami', 'GET', `${V3}/account/whoami`, (s) => s.account.whoami()],
    ['account.login', 'POST', `${V3}/login`, (s) => s.account.loginWithPassword('@a:hs', 'pw')],
    ['rooms.create', 'POST', `${V3}/createRoom`, (s) => s.rooms.create({})],
    ['rooms.sendText', 'PUT', `${V3}/rooms/`, (s) => s.rooms.sendText('!r:hs', 'hi')],
    ['rooms.messages', 'GET', `${V3}/rooms/`, (s) => s.rooms.messages('!r:hs')],
    ['rooms.joined', 'GET', `${V3}/joined_rooms`, (s) => s.rooms.joined()],
    ['sync.once', 'GET', `${V3}/sync`, (s) => s.sync.once()],
    ['server.versions', 'GET', '/_matrix/client/versions', (s) => s.server.versions()],
    ['server.capabilities', 'GET', `${V3}/capabilities`, (s) => s.server.capabilities()],
    ['profile.searchUsers', 'POST', `${V3}/user_directory/search`, (s) => s.profile.searchUsers('x')],
  ];
  const BAD_2XX: Array<[string, string]> = [
    ['an HTML page', '<!DOCTYPE html><html><body>Welcome to nginx!</body></html>'],
    ['truncated JSON', '{"user_id":"@a:hs","access_token":"t'],
    ['a JSON array', '[]'],
    ['JSON without the required fields', '{"unrelated":true}'],
    ['JSON null', 'null'],
  ];

  for (const [name, method, pathStart, call] of CALLS) {
    it.each(BAD_2XX)(`${name}: 200 with %s → InvalidResponseError`, async (_what, raw) => {
      if (name === 'rooms.sendText') notEncrypted('!r:hs', BASE);
      nock(BASE)
        .intercept((uri) => uri.startsWith(pathStart), method)
        .reply(200, raw, { 'Content-Type': raw.startsWith('<') ? 'text/html' : 'application/json' });
      const s = session();
      const err = await rejection(call(s));
      expect(err).toBeInstanceOf(InvalidResponseError);
      expect((err as InvalidResponseError).httpStatus).toBe(200);
    });

    it(`${name}: an HTML 502 from a proxy → MatrixError M_UNKNOWN with the status`, async () => {
      if (name === 'rooms.sendText') notEncrypted('!r:hs', BASE);
      nock(BASE).intercept((uri) => uri.startsWith(pathStart), method).reply(502, '<html><h1>502 Bad Gateway</h1></html>');
      const err = await rejection(call(session()));
      expect(err).toBeInstanceOf(MatrixError);
      expect(err).toMatchObject({ httpStatus: 502, errcode: 'M_UNKNOWN' });
    });
  }

  it('a malformed login reply leaves the session logged out, with no login event', async () => {
    nock(BASE).post(`${V3}/login`).reply(200, { user_id: '@a:hs', device_id: 'D' }); // no access_token
    const s = new MatrixSession({ baseUrl: BASE });
    const logins: unknown[] = [];
    s.on('login', (i) => logins.push(i));
    expect(await rejection(s.account.loginWithPassword('@a:hs', 'pw'))).toBeInstanceOf(InvalidResponseError);
    expect(s.isLoggedIn).toBe(false);
    expect(logins).toEqual([]);
  });

  it('an HTML 404 from something that is not a homeserver → MatrixError 404 M_UNKNOWN', async () => {
    nock(BASE).get('/_matrix/client/versions').reply(404, '<html>Not Found</html>');
    const err = await rejection(session().server.versions());
    expect(err).toMatchObject({ name: 'MatrixError', httpStatus: 404, errcode: 'M_UNKNOWN' });
  });

  it('a reply body of megabytes of garbage is still just an InvalidResponseError', async () => {
    nock(BASE).get(`${V3}/account/whoami`).reply(200, '\u0000\uFFFD'.repeat(500_000));
    expect(await rejection(session().account.whoami())).toBeInstanceOf(InvalidResponseError);
  });
});
