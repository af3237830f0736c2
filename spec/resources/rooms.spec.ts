import type { MatrixSession } from '../../lib/session';
import { InvalidResponseError, MatrixError, NotLoggedInError } from '../../lib/core/errors';
import { RoomEvent } from '../../lib/builders/room-event';
import { StateEvent } from '../../lib/builders/state-event';
import type { RequestOptions } from '../../lib/core/request';
import { expectInvalid, guardNock, ME, ME_PATH, serve, session, TOKEN, notEncrypted } from '../helpers/fixtures';

const BOB = '@bob:example.org';
const ROOM = '!room:example.org';
const R = '!room%3Aexample.org';
const EV = '$ev1:example.org';
const E = '%24ev1%3Aexample.org';
const V3 = '/_matrix/client/v3';

/** The call fails with a ValidationError naming `parameter`, and nothing is sent. */
async function rejectsInput(call: () => Promise<unknown>, parameter: string): Promise<void> {
  const seen = ['GET', 'POST', 'PUT', 'DELETE'].flatMap((m) => serve(m, [200, {}]));
  await expectInvalid(call, parameter);
  expect(seen).toEqual([]);
}

// serve() primes replies that some tests rightly leave unused: a call refused before it
// sends, a retry that must not happen, rejectsInput's catch-all.
guardNock({ allowPending: true });

interface Case {
  name: string;
  call: (s: MatrixSession) => Promise<unknown>;
  method: string;
  url: string;
  body?: unknown;
  response?: unknown;
  /** What the method resolves to, when not the response itself. */
  result?: unknown;
}

const MEMBER = { type: 'm.room.member', state_key: BOB, content: { membership: 'join' }, event_id: EV, sender: BOB, origin_server_ts: 1, room_id: ROOM };
const PUBLIC = { chunk: [{ room_id: ROOM, num_joined_members: 1, world_readable: false, guest_can_join: false }], total_room_count_estimate: 1 };

const cases: Case[] = [
  {
    name: 'create sends every option in snake_case',
    call: (s) =>
      s.rooms.create({
        visibility: 'public',
        roomAliasName: 'team',
        name: 'Team',
        topic: 'Line 1\nLine 2',
        invite: [BOB],
        invite3pid: [{ idServer: 'id.example.org', idAccessToken: 'abc', medium: 'email', address: 'a@example.org' }],
        roomVersion: '11',
        creationContent: { 'm.federate': false },
        initialState: [{ type: 'm.room.guest_access', content: { guest_access: 'forbidden' } }, { type: 'x.y', stateKey: 'k', content: {} }],
        preset: 'public_chat',
        isDirect: false,
        powerLevelContentOverride: { invite: 50 },
      }),
    method: 'POST',
    url: `${V3}/createRoom`,
    body: {
      visibility: 'public',
      room_alias_name: 'team',
      name: 'Team',
      topic: 'Line 1\nLine 2',
      invite: [BOB],
      invite_3pid: [{ id_server: 'id.example.org', id_access_token: 'abc', medium: 'email', address: 'a@example.org' }],
      room_version: '11',
      creation_content: { 'm.federate': false },
      initial_state: [
        { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'forbidden' } },
        { type: 'x.y', state_key: 'k', content: {} },
      ],
      preset: 'public_chat',
      is_direct: false,
      power_level_content_override: { invite: 50 },
    },
    response: { room_id: ROOM },
  },
  { name: 'create with no options sends {}', call: (s) => s.rooms.create(), method: 'POST', url: `${V3}/createRoom`, body: {}, response: { room_id: ROOM } },
  {
    name: 'join by alias with repeated via and a reason',
    call: (s) => s.rooms.join('#team:example.org', { via: ['a.example.org', 'b.example.org:8448'], reason: 'hi' }),
    method: 'POST',
    url: `${V3}/join/%23team%3Aexample.org?via=a.example.org&via=b.example.org%3A8448`,
    body: { reason: 'hi' },
    response: { room_id: ROOM },
  },
  {
    name: 'join by ID with third_party_signed passed through',
    call: (s) => s.rooms.join(ROOM, { thirdPartySigned: { sender: BOB, mxid: ME, token: 't', signatures: { 'example.org': { 'ed25519:0': 'sig' } } } }),
    method: 'POST',
    url: `${V3}/join/${R}`,
    body: { third_party_signed: { sender: BOB, mxid: ME, token: 't', signatures: { 'example.org': { 'ed25519:0': 'sig' } } } },
    response: { room_id: ROOM },
  },
  { name: 'leave', call: (s) => s.rooms.leave(ROOM, { reason: 'bye' }), method: 'POST', url: `${V3}/rooms/${R}/leave`, body: { reason: 'bye' }, result: undefined },
  { name: 'forget', call: (s) => s.rooms.forget(ROOM), method: 'POST', url: `${V3}/rooms/${R}/forget`, body: {}, result: undefined },
  { name: 'joined', call: (s) => s.rooms.joined(), method: 'GET', url: `${V3}/joined_rooms`, response: { joined_rooms: [ROOM] } },
  { name: 'invite', call: (s) => s.rooms.invite(ROOM, BOB, { reason: 'r' }), method: 'POST', url: `${V3}/rooms/${R}/invite`, body: { user_id: BOB, reason: 'r' }, result: undefined },
  { name: 'kick', call: (s) => s.rooms.kick(ROOM, BOB), method: 'POST', url: `${V3}/rooms/${R}/kick`, body: { user_id: BOB }, result: undefined },
  { name: 'ban', call: (s) => s.rooms.ban(ROOM, BOB, { reason: 'spam' }), method: 'POST', url: `${V3}/rooms/${R}/ban`, body: { user_id: BOB, reason: 'spam' }, result: undefined },
  { name: 'unban', call: (s) => s.rooms.unban(ROOM, BOB), method: 'POST', url: `${V3}/rooms/${R}/unban`, body: { user_id: BOB }, result: undefined },
  {
    name: 'members with at, membership and notMembership',
    call: (s) => s.rooms.members(ROOM, { at: 's1_2', membership: 'join', notMembership: 'leave' }),
    method: 'GET',
    url: `${V3}/rooms/${R}/members?at=s1_2&membership=join&not_membership=leave`,
    response: { chunk: [MEMBER] },
  },
  { name: 'members without filters', call: (s) => s.rooms.members(ROOM), method: 'GET', url: `${V3}/rooms/${R}/members`, response: { chunk: [] } },
  {
    name: 'joinedMembers',
    call: (s) => s.rooms.joinedMembers(ROOM),
    method: 'GET',
    url: `${V3}/rooms/${R}/joined_members`,
    response: { joined: { [BOB]: { display_name: 'Bob' } } },
  },
  {
    name: 'messages defaults to dir=b',
    call: (s) => s.rooms.messages(ROOM),
    method: 'GET',
    url: `${V3}/rooms/${R}/messages?dir=b`,
    response: { start: 't1', end: 't2', chunk: [] },
  },
  {
    name: 'messages with every option, the filter as JSON',
    call: (s) => s.rooms.messages(ROOM, { from: 't1', dir: 'f', to: 't9', limit: 10, filter: { types: ['m.room.message'] } }),
    method: 'GET',
    url: `${V3}/rooms/${R}/messages?from=t1&dir=f&to=t9&limit=10&filter=${encodeURIComponent('{"types":["m.room.message"]}')}`,
    response: { start: 't1', chunk: [] },
  },
  { name: 'state returns the array', call: (s) => s.rooms.state(ROOM), method: 'GET', url: `${V3}/rooms/${R}/state`, response: [MEMBER] },
  {
    name: 'stateEvent with the empty key ends the path with a slash',
    call: (s) => s.rooms.stateEvent(ROOM, 'm.room.name'),
    method: 'GET',
    url: `${V3}/rooms/${R}/state/m.room.name/`,
    response: { name: 'Team' },
  },
  {
    name: 'stateEvent encodes a key with / and asks for the event format',
    call: (s) => s.rooms.stateEvent(ROOM, 'x.custom', 'a/b c', { format: 'event' }),
    method: 'GET',
    url: `${V3}/rooms/${R}/state/x.custom/a%2Fb%20c?format=event`,
    response: MEMBER,
  },
  { name: 'event', call: (s) => s.rooms.event(ROOM, EV), method: 'GET', url: `${V3}/rooms/${R}/event/${E}`, response: MEMBER },
  {
    name: 'sendEvent puts the content under the builder txnId',
    call: (s) => s.rooms.sendEvent(RoomEvent.text(ROOM, 'hello', 'txn/1')),
    method: 'PUT',
    url: `${V3}/rooms/${R}/send/m.room.message/txn%2F1`,
    body: { msgtype: 'm.text', body: 'hello' },
    response: { event_id: EV },
  },
  {
    name: 'sendStateEvent with a key',
    call: (s) => s.rooms.sendStateEvent(StateEvent.custom(ROOM, 'x.custom', { a: 1 }, 'k/1')),
    method: 'PUT',
    url: `${V3}/rooms/${R}/state/x.custom/k%2F1`,
    body: { a: 1 },
    response: { event_id: EV },
  },
  {
    name: 'sendStateEvent with the empty key',
    call: (s) => s.rooms.sendStateEvent(StateEvent.joinRules(ROOM, 'invite')),
    method: 'PUT',
    url: `${V3}/rooms/${R}/state/m.room.join_rules/`,
    body: { join_rule: 'invite' },
    response: { event_id: EV },
  },
  {
    name: 'redact with a given txnId',
    call: (s) => s.rooms.redact(ROOM, EV, { reason: 'oops', txnId: 'r1' }),
    method: 'PUT',
    url: `${V3}/rooms/${R}/redact/${E}/r1`,
    body: { reason: 'oops' },
    response: { event_id: '$red' },
  },
  {
    name: 'setVisibility',
    call: (s) => s.rooms.setVisibility(ROOM, 'public'),
    method: 'PUT',
    url: `${V3}/directory/list/room/${R}`,
    body: { visibility: 'public' },
    result: undefined,
  },
  {
    name: 'publicRooms GET with limit, since and server',
    call: (s) => s.rooms.publicRooms({ limit: 5, since: 'n1', server: 'other.example.org' }),
    method: 'GET',
    url: `${V3}/publicRooms?limit=5&since=n1&server=other.example.org`,
    response: PUBLIC,
  },
  {
    name: 'searchPublicRooms POSTs the filter, server in the query',
    call: (s) =>
      s.rooms.searchPublicRooms(
        { genericSearchTerm: 'cheese', roomTypes: [null, 'm.space'] },
        { limit: 3, since: 'n1', includeAllNetworks: false, thirdPartyInstanceId: 'irc', server: 'other.example.org' },
      ),
    method: 'POST',
    url: `${V3}/publicRooms?server=other.example.org`,
    body: {
      limit: 3,
      since: 'n1',
      filter: { generic_search_term: 'cheese', room_types: [null, 'm.space'] },
      include_all_networks: false,
      third_party_instance_id: 'irc',
    },
    response: PUBLIC,
  },
  {
    name: 'setTyping names the session user',
    call: (s) => s.rooms.setTyping(ROOM, true, 5000),
    method: 'PUT',
    url: `${V3}/rooms/${R}/typing/${ME_PATH}`,
    body: { typing: true, timeout: 5000 },
    result: undefined,
  },
  {
    name: 'setTyping false without a timeout',
    call: (s) => s.rooms.setTyping(ROOM, false),
    method: 'PUT',
    url: `${V3}/rooms/${R}/typing/${ME_PATH}`,
    body: { typing: false },
    result: undefined,
  },
  { name: 'sendReceipt defaults to m.read', call: (s) => s.rooms.sendReceipt(ROOM, EV), method: 'POST', url: `${V3}/rooms/${R}/receipt/m.read/${E}`, body: {}, result: undefined },
  {
    name: 'sendReceipt private, in a thread',
    call: (s) => s.rooms.sendReceipt(ROOM, EV, 'm.read.private', 'main'),
    method: 'POST',
    url: `${V3}/rooms/${R}/receipt/m.read.private/${E}`,
    body: { thread_id: 'main' },
    result: undefined,
  },
  {
    name: 'setReadMarkers',
    call: (s) => s.rooms.setReadMarkers(ROOM, { fullyRead: EV, read: '$r', readPrivate: '$p' }),
    method: 'POST',
    url: `${V3}/rooms/${R}/read_markers`,
    body: { 'm.fully_read': EV, 'm.read': '$r', 'm.read.private': '$p' },
    result: undefined,
  },
  {
    name: 'resolveAlias',
    call: (s) => s.rooms.resolveAlias('#team:example.org'),
    method: 'GET',
    url: `${V3}/directory/room/%23team%3Aexample.org`,
    response: { room_id: ROOM, servers: ['example.org'] },
  },
  {
    name: 'setAlias',
    call: (s) => s.rooms.setAlias('#team:example.org', ROOM),
    method: 'PUT',
    url: `${V3}/directory/room/%23team%3Aexample.org`,
    body: { room_id: ROOM },
    result: undefined,
  },
  { name: 'deleteAlias', call: (s) => s.rooms.deleteAlias('#team:example.org'), method: 'DELETE', url: `${V3}/directory/room/%23team%3Aexample.org`, result: undefined },
  {
    name: 'getVisibility',
    call: (s) => s.rooms.getVisibility(ROOM),
    method: 'GET',
    url: `${V3}/directory/list/room/${R}`,
    response: { visibility: 'private' },
  },
];

describe('rooms: every endpoint', () => {
  it.each(cases)('$name', async (c) => {
    const response = c.response ?? {};
    if (c.name.startsWith('sendEvent')) notEncrypted(ROOM);
    const seen = serve(c.method, [200, response]);
    const result = await c.call(session());
    expect(result).toEqual('result' in c ? c.result : response);
    expect(seen).toEqual([{ url: c.url, auth: `Bearer ${TOKEN}`, body: c.body }]);
  });

  it('getVisibility, publicRooms and resolveAlias work without a token and send no Authorization', async () => {
    const s = session(true, { accessToken: undefined });
    const seen = serve('GET', [200, { visibility: 'public' }], [200, PUBLIC], [200, { room_id: ROOM, servers: [] }]);
    await expect(s.rooms.getVisibility(ROOM)).resolves.toEqual({ visibility: 'public' });
    await expect(s.rooms.publicRooms()).resolves.toEqual(PUBLIC);
    await expect(s.rooms.resolveAlias('#a:example.org')).resolves.toEqual({ room_id: ROOM, servers: [] });
    expect(seen.map((x) => [x.url, x.auth])).toEqual([
      [`${V3}/directory/list/room/${R}`, undefined],
      [`${V3}/publicRooms`, undefined],
      [`${V3}/directory/room/%23a%3Aexample.org`, undefined],
    ]);
  });

  it('the other endpoints refuse to run without a token, before sending anything', async () => {
    const s = session(true, { accessToken: undefined });
    const seen = serve('POST', [200, {}]);
    await expect(s.rooms.create()).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(s.rooms.searchPublicRooms({ genericSearchTerm: 'x' })).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(s.rooms.sendText(ROOM, 'hi')).rejects.toBeInstanceOf(NotLoggedInError);
    expect(seen).toEqual([]);
  });

  it('a reply missing a required field is an InvalidResponseError', async () => {
    notEncrypted(ROOM);
    serve('PUT', [200, {}]);
    await expect(session().rooms.sendText(ROOM, 'hi')).rejects.toThrow(/"event_id" is missing/);
  });

  it('a room state that is not an array is an InvalidResponseError', async () => {
    serve('GET', [200, {}]);
    await expect(session().rooms.state(ROOM)).rejects.toBeInstanceOf(InvalidResponseError);
  });
});

describe('rooms.setPowerLevel', () => {
  const PL = `${V3}/rooms/${R}/state/m.room.power_levels/`;
  const current = { users: { [ME]: 100, '@carol:example.org': 50 }, users_default: 0, state_default: 50, events: { 'm.room.name': 50 } };

  it("reads the power levels, changes one user's entry and writes the rest back untouched", async () => {
    const got = serve('GET', [200, current]);
    const put = serve('PUT', [200, { event_id: '$pl' }]);
    await expect(session().rooms.setPowerLevel(ROOM, BOB, 75)).resolves.toEqual({ event_id: '$pl' });
    expect(got[0].url).toBe(PL);
    expect(put[0].url).toBe(PL);
    expect(put[0].body).toEqual({ ...current, users: { [ME]: 100, '@carol:example.org': 50, [BOB]: 75 } });
  });

  it('a level equal to users_default removes the entry; missing users and defaults are handled', async () => {
    const put = serve('PUT', [200, { event_id: '$1' }], [200, { event_id: '$2' }]);
    serve('GET', [200, current], [200, { ban: 50 }]);
    await session().rooms.setPowerLevel(ROOM, '@carol:example.org', 0);
    await session().rooms.setPowerLevel(ROOM, BOB, 10);
    expect(put.map((x) => x.body)).toEqual([
      { ...current, users: { [ME]: 100 } },
      { ban: 50, users: { [BOB]: 10 } },
    ]);
  });

  it('a reply that is not an object is an InvalidResponseError and nothing is written', async () => {
    serve('GET', [200, [1, 2]]);
    const put = serve('PUT', [200, { event_id: '$x' }]);
    await expect(session().rooms.setPowerLevel(ROOM, BOB, 10)).rejects.toBeInstanceOf(InvalidResponseError);
    expect(put).toEqual([]);
  });

  it('refuses bad input before any request', async () => {
    await rejectsInput(() => session().rooms.setPowerLevel('room', BOB, 1), 'roomId');
    await rejectsInput(() => session().rooms.setPowerLevel(ROOM, 'bob', 1), 'userId');
    await rejectsInput(() => session().rooms.setPowerLevel(ROOM, BOB, 1.5), 'level');
    await rejectsInput(() => session().rooms.setPowerLevel(ROOM, BOB, 2 ** 53), 'level');
    await rejectsInput(() => session().rooms.setPowerLevel(ROOM, BOB, '50' as unknown as number), 'level');
  });
});

describe('rooms: retries', () => {
  // Retries on (3, the library default): whether a call is retried is what these tests are about.
  const retrying = (): MatrixSession => session(true, { maxRetries: 3 });

  it('sendEvent reuses its txnId on a retry after a 503', async () => {
    notEncrypted(ROOM);
    const seen = serve('PUT', [503, { errcode: 'M_UNKNOWN' }], [200, { event_id: EV }]);
    await expect(retrying().rooms.sendText(ROOM, 'once')).resolves.toEqual({ event_id: EV });
    expect(seen).toHaveLength(2);
    expect(seen[1].url).toBe(seen[0].url);
  });

  it('redact generates one txnId and reuses it on a retry', async () => {
    const seen = serve('PUT', [502, {}], [200, { event_id: '$red' }]);
    await expect(retrying().rooms.redact(ROOM, EV)).resolves.toEqual({ event_id: '$red' });
    expect(seen).toHaveLength(2);
    expect(seen[0].url).toMatch(new RegExp(`^${V3}/rooms/${R}/redact/${E.replace(/\$/g, '\\$')}/[A-Za-z0-9_-]+\\.[0-9a-z]+$`));
    expect(seen[1].url).toBe(seen[0].url);
    expect(seen[0].body).toEqual({});
  });

  it.each([
    ['sendStateEvent', (s: MatrixSession) => s.rooms.sendStateEvent(StateEvent.name(ROOM, 'n')), 'PUT', { event_id: EV }],
    ['setVisibility', (s: MatrixSession) => s.rooms.setVisibility(ROOM, 'private'), 'PUT', {}],
    ['searchPublicRooms', (s: MatrixSession) => s.rooms.searchPublicRooms({ genericSearchTerm: 'x' }), 'POST', PUBLIC],
    ['join', (s: MatrixSession) => s.rooms.join(ROOM), 'POST', { room_id: ROOM }],
    ['sendReceipt', (s: MatrixSession) => s.rooms.sendReceipt(ROOM, EV), 'POST', {}],
    ['setReadMarkers', (s: MatrixSession) => s.rooms.setReadMarkers(ROOM, { fullyRead: EV }), 'POST', {}],
    ['setTyping', (s: MatrixSession) => s.rooms.setTyping(ROOM, true), 'PUT', {}],
  ] as const)('%s is retried after a 503', async (_name, call, method, response) => {
    const seen = serve(method, [503, {}], [200, response]);
    await call(retrying());
    expect(seen).toHaveLength(2);
  });

  it.each([
    ['create', (s: MatrixSession) => s.rooms.create({ name: 'x' }), 'POST'],
    ['invite', (s: MatrixSession) => s.rooms.invite(ROOM, BOB), 'POST'],
    ['setAlias', (s: MatrixSession) => s.rooms.setAlias('#a:example.org', ROOM), 'PUT'],
  ] as const)('%s is not retried after a 503 (it might act twice)', async (_name, call, method) => {
    const seen = serve(method, [503, { errcode: 'M_UNKNOWN' }], [200, { room_id: ROOM }]);
    await expect(call(retrying())).rejects.toBeInstanceOf(MatrixError);
    expect(seen).toHaveLength(1);
  });

  it('passes the per-request options to the core (maxRetries: 0 stops the retry)', async () => {
    notEncrypted(ROOM);
    const seen = serve('PUT', [503, {}], [200, { event_id: EV }]);
    const options: RequestOptions = { maxRetries: 0 };
    await expect(retrying().rooms.sendText(ROOM, 'x', options)).rejects.toBeInstanceOf(MatrixError);
    expect(seen).toHaveLength(1);
  });
});

describe('rooms: bad input throws ValidationError and sends nothing', () => {
  const s = session();
  const bad: Array<[string, () => Promise<unknown>, string]> = [
    ['create visibility', () => s.rooms.create({ visibility: 'hidden' as 'public' }), 'visibility'],
    ['create preset', () => s.rooms.create({ preset: 'open' as 'public_chat' }), 'preset'],
    ['create invite', () => s.rooms.create({ invite: ['bob'] }), 'invite[0]'],
    ['create invite3pid', () => s.rooms.create({ invite3pid: [{ idServer: 'x', medium: 'email', address: 'a' } as never] }), 'invite3pid[0].idAccessToken'],
    ['create initialState', () => s.rooms.create({ initialState: [{ type: 'x', content: 'no' as never }] }), 'initialState[0].content'],
    ['create isDirect', () => s.rooms.create({ isDirect: 'yes' as never }), 'isDirect'],
    ['create name', () => s.rooms.create({ name: 'a\nb' }), 'name'],
    ['join target', () => s.rooms.join('room'), 'roomIdOrAlias'],
    ['join via', () => s.rooms.join(ROOM, { via: ['bad server/'] }), 'via[0]'],
    ['join thirdPartySigned', () => s.rooms.join(ROOM, { thirdPartySigned: { sender: 'x' } as never }), 'thirdPartySigned.sender'],
    ['leave roomId', () => s.rooms.leave('#alias:example.org'), 'roomId'],
    ['leave reason', () => s.rooms.leave(ROOM, { reason: 5 as never }), 'reason'],
    ['forget roomId', () => s.rooms.forget(''), 'roomId'],
    ['invite userId', () => s.rooms.invite(ROOM, 'bob'), 'userId'],
    ['kick roomId', () => s.rooms.kick('room', BOB), 'roomId'],
    ['ban userId', () => s.rooms.ban(ROOM, '@bob'), 'userId'],
    ['unban userId', () => s.rooms.unban(ROOM, 'x'), 'userId'],
    ['members membership', () => s.rooms.members(ROOM, { membership: 'joined' as 'join' }), 'membership'],
    ['members notMembership', () => s.rooms.members(ROOM, { notMembership: 'x' as 'join' }), 'notMembership'],
    ['joinedMembers roomId', () => s.rooms.joinedMembers('x'), 'roomId'],
    ['messages dir', () => s.rooms.messages(ROOM, { dir: 'x' as 'b' }), 'dir'],
    ['messages limit', () => s.rooms.messages(ROOM, { limit: 0 }), 'limit'],
    ['messages filter', () => s.rooms.messages(ROOM, { filter: '{}' as never }), 'filter'],
    ['state roomId', () => s.rooms.state('x'), 'roomId'],
    ['stateEvent type', () => s.rooms.stateEvent(ROOM, ''), 'type'],
    ['stateEvent key ..', () => s.rooms.stateEvent(ROOM, 'x.y', '..'), 'path segment'],
    ['stateEvent format', () => s.rooms.stateEvent(ROOM, 'x.y', '', { format: 'raw' as 'event' }), 'format'],
    ['event eventId', () => s.rooms.event(ROOM, 'ev'), 'eventId'],
    ['sendEvent hand-made', () => s.rooms.sendEvent({ roomId: ROOM, type: 'm.room.message', content: {}, txnId: '' }), 'event.txnId'],
    ['sendEvent not an event', () => s.rooms.sendEvent(null as never), 'event'],
    ['sendStateEvent hand-made', () => s.rooms.sendStateEvent({ roomId: 'x', type: 't', stateKey: '', content: {} }), 'event.roomId'],
    ['redact eventId', () => s.rooms.redact(ROOM, 'x'), 'eventId'],
    ['redact txnId', () => s.rooms.redact(ROOM, EV, { txnId: '' }), 'txnId'],
    ['getVisibility roomId', () => s.rooms.getVisibility('x'), 'roomId'],
    ['setVisibility value', () => s.rooms.setVisibility(ROOM, 'hidden' as 'public'), 'visibility'],
    ['publicRooms server', () => s.rooms.publicRooms({ server: 'https://x' }), 'server'],
    ['publicRooms limit', () => s.rooms.publicRooms({ limit: -1 }), 'limit'],
    ['searchPublicRooms term', () => s.rooms.searchPublicRooms({ genericSearchTerm: 7 as never }), 'filter.genericSearchTerm'],
    ['searchPublicRooms roomTypes', () => s.rooms.searchPublicRooms({ roomTypes: [1 as never] }), 'filter.roomTypes[0]'],
    ['searchPublicRooms includeAllNetworks', () => s.rooms.searchPublicRooms({}, { includeAllNetworks: 'y' as never }), 'includeAllNetworks'],
    ['sendText body', () => s.rooms.sendText(ROOM, ''), 'body'],
    ['sendNotice roomId', () => s.rooms.sendNotice('x', 'hi'), 'roomId'],
    ['sendHtml html', () => s.rooms.sendHtml(ROOM, ''), 'html'],
    ['reply event', () => s.rooms.reply({ room_id: ROOM, event_id: EV, sender: 'bob' }, 'x'), 'event.sender'],
    ['react key', () => s.rooms.react({ room_id: ROOM, event_id: EV }, ''), 'key'],
    ['setTyping typing', () => s.rooms.setTyping(ROOM, 'yes' as never), 'typing'],
    ['setTyping timeout', () => s.rooms.setTyping(ROOM, true, 1.5), 'timeoutMs'],
    ['sendReceipt type', () => s.rooms.sendReceipt(ROOM, EV, 'm.seen' as 'm.read'), 'type'],
    ['sendReceipt threadId', () => s.rooms.sendReceipt(ROOM, EV, 'm.read', 'thread'), 'threadId'],
    ['setReadMarkers read', () => s.rooms.setReadMarkers(ROOM, { read: 'x' }), 'read'],
    ['resolveAlias alias', () => s.rooms.resolveAlias(ROOM), 'alias'],
    ['setAlias roomId', () => s.rooms.setAlias('#a:example.org', '#b:example.org'), 'roomId'],
    ['deleteAlias alias', () => s.rooms.deleteAlias('a'), 'alias'],
  ];
  it.each(bad)('%s', async (_name, call, parameter) => {
    await rejectsInput(call, parameter);
  });
});
