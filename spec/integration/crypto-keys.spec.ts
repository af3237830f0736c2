// Room keys that arrive late (a later sync, a backup restore), and cross-signing.
import { randomBytes } from 'node:crypto';
import {
  Auth,
  MatrixSession,
  RecoveryKeyError,
  decodeRecoveryKey,
  encodeRecoveryKey,
  type RequestOptions,
  type RequestSpec,
  type SessionOptions,
} from '../../lib';
import { itEnv } from '../harness/env';
import { backedUpHistory, cleanUp, cryptoUser, encryptedPair, inbox, startSync, storeDir, track } from './crypto-helpers';
import { anonSession, eventually, newUser, PASSWORD } from './helpers';

jest.setTimeout(90_000);
afterEach(cleanUp);

/**
 * A session whose to-device messages are held back: the request "succeeds" at once (so the
 * engine goes on and the message is sent), and the real request goes out on `release()`.
 * That is a room key arriving in a later sync than its message.
 */
class HoldingSession extends MatrixSession {
  holding = true;
  #held: (() => Promise<unknown>)[] = [];

  constructor(options: SessionOptions) {
    super(options);
    const core = this.core;
    const request = core.request.bind(core);
    core.request = (async (spec: RequestSpec, options?: RequestOptions) => {
      if (this.holding && spec.method === 'PUT' && spec.path.startsWith('/_matrix/client/v3/sendToDevice/')) {
        this.#held.push(() => request(spec, options));
        return {};
      }
      return request(spec, options);
    }) as typeof core.request;
  }

  async release(): Promise<number> {
    this.holding = false;
    const held = this.#held.splice(0);
    await Promise.all(held.map((send) => send()));
    return held.length;
  }
}

describe('a room key that arrives after its message', () => {
  it('is first room.undecryptable, then delivered decrypted, once', async () => {
    const alice = await cryptoUser('alice');
    const bob = track(new HoldingSession({ baseUrl: itEnv().baseUrl }));
    await bob.account.register({ username: `bob-${process.pid}-${Date.now()}`, password: PASSWORD });
    await bob.crypto.start({ storeDir: storeDir() });
    await startSync(bob);
    const roomId = await encryptedPair(alice, bob);
    const got = inbox(alice, roomId);
    const delivered: string[] = [];
    alice.on('room.message', (rid, ev) => void (rid === roomId && delivered.push(ev.event_id)));

    const { event_id: late } = await bob.rooms.sendText(roomId, 'my key comes later');
    const missing = await eventually(async () => got.undecryptable.find((u) => u.event.event_id === late));
    expect(missing.code).toBe('MissingRoomKey');
    expect(got.messages()).toEqual([]);

    expect(await bob.release()).toBeGreaterThan(0);
    const decrypted = await got.waitFor((e) => e.event_id === late);
    expect(decrypted.content).toMatchObject({ body: 'my key comes later' });
    // Later batches do not deliver it again.
    const { event_id: next } = await bob.rooms.sendText(roomId, 'and this one is on time');
    await got.waitFor((e) => e.event_id === next);
    expect(delivered.filter((id) => id === late)).toHaveLength(1);
    expect(got.undecryptable.filter((u) => u.event.event_id === late)).toHaveLength(1);
  });
});

describe('server-side key backup', () => {
  it('a second device of the same user restores the keys from the recovery key and decrypts the history', async () => {
    const alice = await cryptoUser('alice');
    const bob = await cryptoUser('bob');
    const { roomId, recoveryKey, backupVersion, sent } = await backedUpHistory(alice, bob, ['history 1', 'history 2', 'history 3']);

    // The redeployed bot: a new login (new device), a new store, the recovery key.
    const redeployed = track(anonSession());
    await redeployed.account.login(Auth.password(alice.userId!, PASSWORD));
    expect(redeployed.deviceId).not.toBe(alice.deviceId);
    await redeployed.crypto.start({ storeDir: storeDir() });
    const page = await redeployed.rooms.messages(roomId, { limit: 50 });
    const history = page.chunk.filter((e) => sent.includes(e.event_id)).reverse();
    await expect(redeployed.crypto.decryptEvent(history[0])).rejects.toMatchObject({ info: { code: 'MissingRoomKey' } });

    const restored = await redeployed.crypto.restoreBackup(recoveryKey);
    expect(restored.version).toBe(backupVersion);
    expect(restored.imported).toBeGreaterThanOrEqual(1);
    const bodies = await Promise.all(history.map(async (e) => (await redeployed.crypto.decryptEvent(e)).content.body));
    expect(bodies).toEqual(['history 1', 'history 2', 'history 3']);
    // The new device writes to the same backup from now on.
    expect((await redeployed.crypto.status()).backupVersion).toBe(backupVersion);
    // The same key in the base64 form createBackup returned before recovery keys is still taken.
    expect(await redeployed.crypto.restoreBackup(decodeRecoveryKey(recoveryKey).toString('base64'))).toMatchObject({ version: backupVersion });
    // A malformed key is refused as bad input; a well-formed key of no backup of the server's, as not the backup's.
    await expect(redeployed.crypto.restoreBackup('bm90IGEga2V5')).rejects.toBeInstanceOf(RecoveryKeyError);
    await expect(redeployed.crypto.restoreBackup(recoveryKey.slice(0, -1))).rejects.toMatchObject({ name: 'RecoveryKeyError', problem: 'length' });
    await expect(redeployed.crypto.restoreBackup(encodeRecoveryKey(randomBytes(32)))).rejects.toMatchObject({
      name: 'CryptoError',
      message: expect.stringMatching(/does not belong to the current backup/),
    });
  });
});

describe('cross-signing', () => {
  it('bootstrapCrossSigning creates and uploads the keys and signs the own device', async () => {
    const alice = await cryptoUser('alice', { sync: false });
    expect(await alice.crypto.isDeviceCrossSigned()).toBe(false);
    // Synapse takes the first upload without user-interactive auth.
    expect(await alice.crypto.bootstrapCrossSigning()).toBe(true);
    expect(await alice.crypto.isDeviceCrossSigned()).toBe(true);
    // Held already: nothing to do without `reset`.
    expect(await alice.crypto.bootstrapCrossSigning()).toBe(false);

    // Another user's view (the server's keys, as any client reads them).
    const bob = await newUser('bob');
    const keys = (await (
      await fetch(`${itEnv().baseUrl}/_matrix/client/v3/keys/query`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bob.getAccessToken()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ device_keys: { [alice.userId!]: [] } }),
      })
    ).json()) as {
      master_keys: Record<string, unknown>;
      self_signing_keys: Record<string, { keys: Record<string, string> }>;
      device_keys: Record<string, Record<string, { signatures: Record<string, Record<string, string>> }>>;
    };
    expect(keys.master_keys[alice.userId!]).toBeDefined();
    const selfSigning = Object.keys(keys.self_signing_keys[alice.userId!].keys)[0];
    expect(keys.device_keys[alice.userId!][alice.deviceId!].signatures[alice.userId!][selfSigning]).toEqual(expect.any(String));

    // Replacing the keys asks for auth: refused without, answered with the password.
    await expect(alice.crypto.bootstrapCrossSigning({ reset: true })).rejects.toMatchObject({ httpStatus: 401 });
    expect(await alice.crypto.bootstrapCrossSigning({ reset: true, auth: Auth.password(alice.userId!, PASSWORD) })).toBe(true);
    expect(await alice.crypto.isDeviceCrossSigned()).toBe(true);
  });
});
