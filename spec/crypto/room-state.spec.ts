// What the SDK knows of rooms' encryption and members without the engine (nock).
import nock from 'nock';
import { RequestCore, type SyncResponse } from '../../lib';
import { RoomCryptoState } from '../../lib/crypto/room-state';
import { BASE, guardNock, TOKEN } from '../helpers/fixtures';

guardNock();

const ROOM = '!r:example.org';
const R = encodeURIComponent(ROOM);

function state(syncing = false): RoomCryptoState {
  const core = new RequestCore({ baseUrl: BASE, maxRetries: 0 }, { rateLimited: () => {}, tokenRefreshed: () => {}, sessionExpired: () => {} });
  core.credentials.set({ accessToken: TOKEN, userId: '@me:example.org', deviceId: 'D' });
  return new RoomCryptoState(core, () => syncing);
}

const member = (user: string, membership: unknown) => ({ type: 'm.room.member', state_key: user, content: { membership }, sender: user, event_id: `$${user}`, origin_server_ts: 1 });
const batch = (events: unknown[], section: 'join' | 'leave' = 'join', roomId = ROOM): SyncResponse =>
  ({ next_batch: 'n', rooms: { [section]: { [roomId]: { timeline: { events } } } } }) as unknown as SyncResponse;

describe('RoomCryptoState', () => {
  it('loads the members once, then follows sync; invited ones count unless history is "joined"', async () => {
    const s = state();
    s.setEncrypted(ROOM, { algorithm: 'm.megolm.v1.aes-sha2' });
    nock(BASE)
      .get(`/_matrix/client/v3/rooms/${R}/members`)
      .reply(200, { chunk: [member('@a:x', 'join'), member('@b:x', 'invite'), member('@c:x', 'leave'), { junk: true }, member('@d:x', 5)] });
    nock(BASE).get(`/_matrix/client/v3/rooms/${R}/state/m.room.history_visibility/`).reply(404, { errcode: 'M_NOT_FOUND' });
    expect(await s.targets(ROOM)).toEqual({ users: ['@a:x', '@b:x'], historyVisibility: 'shared' });

    // From sync: a join, a leave, and the history visibility becoming "joined".
    const joined = s.observe(
      batch([
        member('@e:x', 'join'),
        member('@a:x', 'leave'),
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' }, event_id: '$h', sender: '@a:x', origin_server_ts: 2 },
        { type: 'm.room.message', content: { body: 'not state' }, event_id: '$m', sender: '@a:x', origin_server_ts: 3 },
        null,
      ]),
    );
    expect(joined).toEqual(['@e:x']);
    expect(await s.targets(ROOM)).toEqual({ users: ['@e:x'], historyVisibility: 'joined' });
  });

  it('a members list that is not an array gives no targets, and a failed history lookup is thrown', async () => {
    const s = state();
    nock(BASE).get(`/_matrix/client/v3/rooms/${R}/members`).reply(200, { chunk: 'nope' });
    nock(BASE).get(`/_matrix/client/v3/rooms/${R}/state/m.room.history_visibility/`).reply(200, { history_visibility: 'invited' });
    expect(await s.targets(ROOM)).toEqual({ users: [], historyVisibility: 'invited' });
    const t = state();
    nock(BASE).get(`/_matrix/client/v3/rooms/${R}/members`).reply(200, { chunk: [] });
    nock(BASE).get(`/_matrix/client/v3/rooms/${R}/state/m.room.history_visibility/`).reply(500, { errcode: 'M_UNKNOWN' });
    await expect(t.targets(ROOM)).rejects.toMatchObject({ httpStatus: 500 });
  });

  it('encryption from sync (joined and left rooms); a content without an algorithm is still encryption, with none we support', async () => {
    const s = state(true);
    s.observe(batch([{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' }, event_id: '$e', sender: '@a:x', origin_server_ts: 1 }], 'leave'));
    expect(s.known(ROOM)).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
    const other = '!o:example.org';
    nock(BASE).get(`/_matrix/client/v3/rooms/${encodeURIComponent(other)}/state/m.room.encryption/`).reply(200, { foo: 1 });
    // The state event exists: the room is encrypted for good, so nothing is ever sent in clear.
    expect(await s.encryption(other)).toEqual({ foo: 1, algorithm: 'unknown' });
    const third = '!t:example.org';
    s.observe(batch([{ type: 'm.room.encryption', state_key: '', content: { algorithm: 5 }, event_id: '$e', sender: '@a:x', origin_server_ts: 1 }], 'join', third));
    expect(s.known(third)).toEqual({ algorithm: 'unknown' });
    // While the loop runs, "not encrypted" stays true for a room without the state event.
    const plain = '!p:example.org';
    nock(BASE).get(`/_matrix/client/v3/rooms/${encodeURIComponent(plain)}/state/m.room.encryption/`).reply(404, { errcode: 'M_NOT_FOUND' });
    expect(await s.encryption(plain)).toBeNull();
    expect(s.known(plain)).toBeNull();
  });

  it('concurrent lookups share one request; an aborted caller stops waiting, the others get the answer', async () => {
    const s = state();
    nock(BASE).get(`/_matrix/client/v3/rooms/${R}/state/m.room.encryption/`).delay(30).reply(200, { algorithm: 'm.megolm.v1.aes-sha2' });
    const controller = new AbortController();
    const a = s.encryption(ROOM);
    const b = s.encryption(ROOM, { signal: controller.signal });
    controller.abort();
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    await expect(a).resolves.toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
    const already = new AbortController();
    already.abort();
    // Known now: no request, whatever the signal.
    await expect(s.encryption(ROOM, { signal: already.signal })).resolves.toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
  });

  it('asks the engine record before the server, and keeps it informed of changes only', async () => {
    const s = state();
    const sets: string[] = [];
    s.persisted = {
      get: async (roomId) => (roomId === ROOM ? { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_msgs: 5 } : undefined),
      set: async (roomId) => void sets.push(roomId),
    };
    expect(await s.encryption(ROOM)).toEqual({ algorithm: 'm.megolm.v1.aes-sha2', rotation_period_msgs: 5 });
    s.setEncrypted(ROOM, { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_msgs: 5 });
    s.setEncrypted(ROOM, { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_msgs: 9 });
    expect(sets).toEqual([ROOM]);
  });

  it('holds at most 10 000 rooms, forgetting rooms found not encrypted first', async () => {
    const s = state(true);
    for (let i = 0; i < 10_000; i++) s.setEncrypted(`!e${i}:x`, { algorithm: 'm.megolm.v1.aes-sha2' });
    s.setEncrypted('!new:x', { algorithm: 'm.megolm.v1.aes-sha2' });
    expect(s.known('!e0:x')).toBeUndefined(); // the oldest encrypted one went: it will be asked again, never assumed clear
    expect(s.known('!new:x')).toBeDefined();
  });
});
