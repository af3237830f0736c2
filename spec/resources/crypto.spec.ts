// The send decision (encrypted / not / unknown → state fetch / crypto not started) and the
// crypto group's input checks, against nock: no engine needed for any of it.
import nock from 'nock';
import {
  CryptoError,
  CryptoNotStartedError,
  CryptoPackageMissingError,
  MatrixError,
  NotLoggedInError,
  RecoveryKeyError,
  RoomEvent,
  encodeRecoveryKey,
  StateEvent,
  type SyncResponse,
} from '../../lib';
import { BASE, expectInvalid, guardNock, notEncrypted, serve, session } from '../helpers/fixtures';

guardNock();

const ROOM = '!room:example.org';
const STATE = `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/state/m.room.encryption/`;
const SEND = new RegExp(`^/_matrix/client/v3/rooms/${encodeURIComponent(ROOM).replace(/[!%]/g, '\\$&')}/send/`);

function encryptedState(times = 1): void {
  nock(BASE).get(STATE).times(times).reply(200, { algorithm: 'm.megolm.v1.aes-sha2' });
}

/** A sync batch whose timeline turns encryption on in ROOM. */
const encryptionBatch = (roomId = ROOM): SyncResponse => ({
  next_batch: 'n1',
  rooms: {
    join: {
      [roomId]: {
        timeline: {
          events: [
            { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' }, event_id: '$e', sender: '@a:x', origin_server_ts: 1, room_id: roomId },
          ],
        },
      },
    },
  },
});

describe('the send decision in rooms.sendEvent', () => {
  it('a room found not encrypted (404) gets the plain event; the answer is kept', async () => {
    const s = session();
    notEncrypted(ROOM);
    const seen = serve('PUT', [200, { event_id: '$1' }], [200, { event_id: '$2' }]);
    await s.rooms.sendText(ROOM, 'one');
    await s.rooms.sendNotice(ROOM, 'two');
    expect(seen.map((x) => x.url.replace(/\/[^/]+$/, ''))).toEqual([
      `/_matrix/client/v3/rooms/!room%3Aexample.org/send/m.room.message`,
      `/_matrix/client/v3/rooms/!room%3Aexample.org/send/m.room.message`,
    ]);
    expect(seen[0].body).toEqual({ msgtype: 'm.text', body: 'one' });
  });

  it('"not encrypted" is asked again after a minute (the room may have been encrypted since)', async () => {
    const s = session();
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(1_000_000);
      notEncrypted(ROOM);
      serve('PUT', [200, { event_id: '$1' }]);
      await s.rooms.sendText(ROOM, 'one');
      now.mockReturnValue(1_000_000 + 61_000);
      encryptedState();
      await expect(s.rooms.sendText(ROOM, 'two')).rejects.toBeInstanceOf(CryptoNotStartedError);
    } finally {
      now.mockRestore();
    }
  });

  it('an encrypted room without crypto started: CryptoNotStartedError, nothing sent, for every helper', async () => {
    const s = session();
    encryptedState();
    const calls = [
      () => s.rooms.sendText(ROOM, 'secret'),
      () => s.rooms.sendNotice(ROOM, 'secret'),
      () => s.rooms.sendHtml(ROOM, '<b>secret</b>'),
      () => s.rooms.reply({ room_id: ROOM, event_id: '$x', sender: '@b:x' }, 'secret'),
      () => s.rooms.react({ room_id: ROOM, event_id: '$x' }, '👍'),
      () => s.rooms.sendEvent(RoomEvent.custom(ROOM, 'com.example.secret', { a: 1 })),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CryptoNotStartedError);
      expect(error).toBeInstanceOf(CryptoError);
      expect((error as CryptoNotStartedError).roomId).toBe(ROOM);
    }
  });

  it('a room whose state cannot be read: the error is thrown, nothing is sent in clear', async () => {
    const s = session();
    nock(BASE).get(STATE).reply(403, { errcode: 'M_FORBIDDEN', error: 'not in room' });
    await expect(s.rooms.sendText(ROOM, 'x')).rejects.toMatchObject({ name: 'MatrixError', errcode: 'M_FORBIDDEN' });
    // A 404 that is not "no such state" (an unknown endpoint, a proxy) is not "not encrypted" either.
    nock(BASE).get(STATE).reply(404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    await expect(s.rooms.sendText(ROOM, 'x')).rejects.toBeInstanceOf(MatrixError);
    nock(BASE).get(STATE).reply(200, '<html>hi</html>');
    await expect(s.rooms.sendText(ROOM, 'x')).rejects.toMatchObject({ name: 'InvalidResponseError' });
  });

  it('encryption seen in a sync batch decides without asking the server', async () => {
    const s = session();
    await s.crypto.syncHooks.prepare!(encryptionBatch(), new AbortController().signal);
    await expect(s.rooms.sendText(ROOM, 'x')).rejects.toBeInstanceOf(CryptoNotStartedError);
    expect(await s.crypto.isRoomEncrypted(ROOM)).toBe(true);
  });

  it('a room created encrypted, or encrypted by this session, is known at once', async () => {
    const s = session();
    const created = serve('POST', [200, { room_id: ROOM }]);
    await s.rooms.create({ encrypted: true, name: 'n' });
    expect(created[0].body).toMatchObject({ initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
    await expect(s.rooms.sendText(ROOM, 'x')).rejects.toBeInstanceOf(CryptoNotStartedError);

    const other = '!other:example.org';
    notEncrypted(other);
    serve('PUT', [200, { event_id: '$1' }], [200, { event_id: '$s' }]);
    await s.rooms.sendText(other, 'still clear');
    await s.rooms.sendStateEvent(StateEvent.encryption(other, { rotationPeriodMsgs: 10 }));
    await expect(s.rooms.sendText(other, 'x')).rejects.toBeInstanceOf(CryptoNotStartedError);
  });

  it('an event the caller encrypted already goes out as it is, without a state fetch', async () => {
    const s = session();
    const seen = serve('PUT', [200, { event_id: '$1' }]);
    await s.rooms.sendEvent(RoomEvent.custom(ROOM, 'm.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'x' }, 't1'));
    expect(seen[0].url).toMatch(SEND);
    expect(seen[0].url).toMatch(/\/send\/m\.room\.encrypted\/t1$/);
  });

  it('bad input is refused before the state fetch', async () => {
    const s = session();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expectInvalid(() => s.rooms.sendEvent({ roomId: ROOM, type: 'm.x', content: cyclic, txnId: 't' }), 'body');
    await expectInvalid(() => s.rooms.sendEvent({ roomId: ROOM, type: 'm.x', content: {}, txnId: '..' }), 'path segment');
    await expectInvalid(() => s.rooms.create({ encrypted: 'yes' as never }), 'encrypted');
  });
});

describe('session.crypto input and state checks', () => {
  it('start needs a logged-in session with a user and device ID', async () => {
    await expect(session(false).crypto.start({ storeDir: '/tmp/x' })).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(session(true, { deviceId: undefined }).crypto.start({ storeDir: '/tmp/x' })).rejects.toThrow(/device ID/);
  });

  it('start validates its options', async () => {
    const s = session();
    await expectInvalid(() => s.crypto.start(undefined as never), 'opts');
    await expectInvalid(() => s.crypto.start({ storeDir: '' }), 'storeDir');
    await expectInvalid(() => s.crypto.start({ storeDir: '/tmp/x', passphrase: 5 as never }), 'passphrase');
  });

  it('the trust and backup calls need a started engine', async () => {
    const s = session();
    expect(s.crypto.started).toBe(false);
    expect(await s.crypto.status()).toEqual({ started: false });
    for (const call of [
      () => s.crypto.bootstrapCrossSigning(),
      () => s.crypto.createBackup(),
      () => s.crypto.restoreBackup(encodeRecoveryKey(new Uint8Array(32))),
      () => s.crypto.isDeviceCrossSigned(),
      () => s.crypto.decryptEvent({ type: 'm.room.encrypted', room_id: ROOM, content: {} }),
    ]) {
      await expect(call()).rejects.toMatchObject({ name: 'CryptoError', message: expect.stringMatching(/not started/) });
    }
    await expectInvalid(() => s.crypto.bootstrapCrossSigning({ reset: 'yes' as never }), 'reset');
    await expectInvalid(() => s.crypto.restoreBackup(5 as never), 'recoveryKey');
    // A malformed recovery key is refused as bad input, whatever the engine's state.
    const mistyped = encodeRecoveryKey(new Uint8Array(32)).replace(/^Es/, 'Et');
    expect(await expectInvalid(() => s.crypto.restoreBackup(mistyped), 'recoveryKey')).toBeInstanceOf(RecoveryKeyError);
    await expectInvalid(() => s.crypto.restoreBackup('not a key'), 'recoveryKey');
    // An event that is not encrypted needs no engine.
    const clear = { type: 'm.room.message', room_id: ROOM, content: { body: 'x' } };
    expect(await s.crypto.decryptEvent(clear)).toBe(clear);
    await s.crypto.stop(); // stopping what never started is fine
  });

  it('a missing engine package is a CryptoPackageMissingError naming it', async () => {
    await jest.isolateModulesAsync(async () => {
      jest.doMock('@matrix-org/matrix-sdk-crypto-wasm', () => {
        throw Object.assign(new Error("Cannot find module '@matrix-org/matrix-sdk-crypto-wasm'"), { code: 'MODULE_NOT_FOUND' });
      });
      // (require, not import(): jest on Node 22+ runs no dynamic import without VM modules)
      const lib = require('../../lib') as typeof import('../../lib');
      const s = new lib.MatrixSession({ baseUrl: BASE, accessToken: 't', userId: '@a:example.org', deviceId: 'D' });
      const error = await s.crypto.start({ storeDir: '/nonexistent/never-created' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(lib.CryptoPackageMissingError);
      expect((error as CryptoPackageMissingError).packageName).toBe('@matrix-org/matrix-sdk-crypto-wasm');
      expect((error as Error).message).toMatch(/npm install @matrix-org\/matrix-sdk-crypto-wasm/);
    });
    jest.dontMock('@matrix-org/matrix-sdk-crypto-wasm');
  });
});
