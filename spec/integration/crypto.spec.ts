// End-to-end encryption between two matrix-session users on a real Synapse.
import { CryptoNotStartedError, CryptoPassphraseError, CryptoStoreError, CryptoStoreLockedError, MatrixSession, RoomEvent } from '../../lib';
import { itEnv } from '../harness/env';
import { cleanUp, cryptoUser, encryptedPair, inbox, storeDir, track } from './crypto-helpers';
import { eventually, newUser } from './helpers';

jest.setTimeout(90_000);
afterEach(cleanUp);

describe('two matrix-session users in an encrypted room', () => {
  it('exchange text, replies and reactions both ways; the server holds only ciphertext', async () => {
    const alice = await cryptoUser('alice');
    const bob = await cryptoUser('bob');
    const roomId = await encryptedPair(alice, bob);
    const atAlice = inbox(alice, roomId);
    const atBob = inbox(bob, roomId);

    const { event_id: hello } = await alice.rooms.sendText(roomId, 'hello bob');
    const got = await atBob.waitFor((e) => e.event_id === hello);
    expect(got).toMatchObject({ type: 'm.room.message', sender: alice.userId, content: { msgtype: 'm.text', body: 'hello bob' } });
    expect(got.encryption).toMatchObject({ algorithm: 'm.megolm.v1.aes-sha2', senderDevice: alice.deviceId });
    expect(got.encryption!.senderCurve25519Key).toBe((await alice.crypto.status()).identityKeys!.curve25519);

    const { event_id: answer } = await bob.rooms.reply({ ...got, room_id: roomId }, 'hi alice');
    const reply = await atAlice.waitFor((e) => e.event_id === answer);
    expect(reply.content).toMatchObject({ body: 'hi alice', 'm.relates_to': { 'm.in_reply_to': { event_id: hello } } });

    const { event_id: thumbs } = await alice.rooms.react({ room_id: roomId, event_id: answer }, '👍');
    const reaction = await atBob.waitFor((e) => e.event_id === thumbs);
    expect(reaction).toMatchObject({ type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: answer, key: '👍' } } });

    const { event_id: back } = await bob.rooms.react({ room_id: roomId, event_id: hello }, '🎉');
    expect((await atAlice.waitFor((e) => e.event_id === back)).type).toBe('m.reaction');
    const { event_id: notice } = await bob.rooms.sendNotice(roomId, 'a notice');
    expect((await atAlice.waitFor((e) => e.event_id === notice)).content).toMatchObject({ msgtype: 'm.notice', body: 'a notice' });

    // What the server stored: ciphertext only, for every message-like event.
    const page = await alice.rooms.messages(roomId, { limit: 50 });
    const sent = new Set([hello, answer, thumbs, back, notice]);
    const stored = page.chunk.filter((e) => sent.has(e.event_id));
    expect(stored).toHaveLength(5);
    for (const e of stored) {
      expect(e.type).toBe('m.room.encrypted');
      expect(e.content).toMatchObject({ algorithm: 'm.megolm.v1.aes-sha2' });
      expect(JSON.stringify(e.content)).not.toMatch(/hello bob|hi alice|a notice/);
    }
    // And what a history reader decrypts from it.
    const read = await alice.crypto.decryptEvent(stored.find((e) => e.event_id === answer)!);
    expect(read.content).toMatchObject({ body: 'hi alice' });
  });

  it('sync.events() yields the decrypted event too', async () => {
    const alice = await cryptoUser('alice');
    const bob = await cryptoUser('bob');
    const roomId = await encryptedPair(alice, bob);
    const stream = bob.sync.events({ kinds: ['timeline'] });
    const { event_id } = await alice.rooms.sendText(roomId, 'through the iterator');
    for await (const item of stream) {
      if (item.kind !== 'timeline' || item.event.event_id !== event_id) continue;
      expect(item.event).toMatchObject({ type: 'm.room.message', content: { body: 'through the iterator' }, encryption: { senderDevice: alice.deviceId } });
      break;
    }
  });

  it('refuses to send in clear into an encrypted room when encryption was never started', async () => {
    const alice = track(await newUser('plain'));
    const bob = await cryptoUser('bob');
    const { room_id: roomId } = await bob.rooms.create({ invite: [alice.userId!], encrypted: true });
    await alice.rooms.join(roomId);
    const error = await alice.rooms.sendText(roomId, 'in clear?').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CryptoNotStartedError);
    expect((error as CryptoNotStartedError).roomId).toBe(roomId);
    await expect(alice.rooms.sendEvent(RoomEvent.custom(roomId, 'com.example.x', { a: 1 }))).rejects.toBeInstanceOf(CryptoNotStartedError);
    const page = await alice.rooms.messages(roomId, { limit: 20 });
    expect(page.chunk.filter((e) => e.sender === alice.userId && e.type !== 'm.room.member')).toEqual([]);
    // A plain room takes the same call as before.
    const { room_id: plainRoom } = await alice.rooms.create({});
    const { event_id } = await alice.rooms.sendText(plainRoom, 'clear is fine here');
    expect((await alice.rooms.event(plainRoom, event_id)).type).toBe('m.room.message');
  });

  it('a second session on the same store folder gets the typed lock error', async () => {
    const dir = storeDir();
    const first = await cryptoUser('locked', { dir, sync: false });
    const second = track(await newUser('other'));
    const error = await second.crypto.start({ storeDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CryptoStoreLockedError);
    expect((error as CryptoStoreLockedError).ownerPid).toBe(process.pid);
    // Released by stop: the owner can open it again.
    await first.crypto.stop();
    await first.crypto.start({ storeDir: dir });
    expect(first.crypto.started).toBe(true);
    await eventually(async () => true);
  });

  it('start is idempotent, checks the passphrase and the owner; close() stops it and releases the store', async () => {
    const dir = storeDir();
    const s = track(await newUser('pass'));
    await s.crypto.start({ storeDir: dir, passphrase: 'right horse' });
    await s.crypto.start({ storeDir: dir, passphrase: 'right horse' });
    await expect(s.crypto.start({ storeDir: storeDir() })).rejects.toThrow(/another store folder/);
    const { identityKeys } = await s.crypto.status();
    const credentials = { accessToken: s.getAccessToken()!, userId: s.userId!, deviceId: s.deviceId! };
    await s.close();
    expect(s.crypto.started).toBe(false);

    const again = track(new MatrixSession({ baseUrl: itEnv().baseUrl, ...credentials }));
    await expect(again.crypto.start({ storeDir: dir, passphrase: 'wrong horse' })).rejects.toBeInstanceOf(CryptoPassphraseError);
    await expect(again.crypto.start({ storeDir: dir })).rejects.toBeInstanceOf(CryptoPassphraseError);
    await again.crypto.start({ storeDir: dir, passphrase: 'right horse' });
    expect((await again.crypto.status()).identityKeys).toEqual(identityKeys);
    await again.crypto.stop();

    // The folder of another user's device is refused, not reused.
    const stranger = track(await newUser('stranger'));
    await expect(stranger.crypto.start({ storeDir: dir, passphrase: 'right horse' })).rejects.toBeInstanceOf(CryptoStoreError);
  });

  it('stop() waits for the engine work of a batch under way, so nothing touches the store once it is closed', async () => {
    const s = await cryptoUser('stopper', { sync: false });
    // A batch with many device-list changes: the engine is busy with it for a while.
    const changed = Array.from({ length: 500 }, (_, i) => `@user${i}:${itEnv().serverName}`);
    const body = { next_batch: 'x', device_lists: { changed, left: [] }, to_device: { events: [] } };
    let settled = false;
    const receiving = s.crypto.syncHooks.receive!(body, new AbortController().signal).finally(() => (settled = true));
    await s.crypto.stop();
    expect(settled).toBe(true);
    await receiving;
    expect(s.crypto.started).toBe(false);
  });
});
