// The crypto store survives a restart, and a SIGKILL: same device, same identity key, every
// message sent while the bot was down decrypted.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FileSyncStore, MatrixSession, StateEvent } from '../../lib';
import { itEnv } from '../harness/env';
import { cleanUp, cryptoUser, inbox, storeDir, track } from './crypto-helpers';
import { eventually, newUser } from './helpers';

jest.setTimeout(120_000);
afterEach(cleanUp);

/** bob creates an encrypted room whose room key rotates every 5 messages, and invites `invitee`, who joins. */
async function rotatingRoom(bob: MatrixSession, invitee: MatrixSession): Promise<string> {
  const encryption = StateEvent.encryption('!x:x', { rotationPeriodMsgs: 5 });
  const { room_id: roomId } = await bob.rooms.create({
    invite: [invitee.userId!],
    initialState: [{ type: encryption.type, content: encryption.content }],
  });
  await invitee.rooms.join(roomId);
  return roomId;
}

/** A request outside the SDK, as a witness. */
function rawGet(p: string, token: string): Promise<Response> {
  return fetch(itEnv().baseUrl + p, { headers: { Authorization: `Bearer ${token}` } });
}

// Above any batch here: a limited timeline (a gap) would hide messages from the loop.
const FILTER = { room: { timeline: { limit: 200 } } };

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

describe('restart on the same store folder', () => {
  it('decrypts the 20 messages sent while it was down, with the same device and identity key', async () => {
    const dir = storeDir();
    const bob = await cryptoUser('bob');
    const alice = track(await newUser('alice'));
    await alice.crypto.start({ storeDir: dir });
    await alice.sync.start({ store: new FileSyncStore(join(dir, 'sync.json')), timeout: 1_000, filter: FILTER });
    const roomId = await rotatingRoom(bob, alice);
    const before = inbox(alice, roomId);
    const { event_id: first } = await bob.rooms.sendText(roomId, 'before the restart');
    await before.waitFor((e) => e.event_id === first);
    const keys = (await alice.crypto.status()).identityKeys;
    const credentials = { accessToken: alice.getAccessToken()!, userId: alice.userId!, deviceId: alice.deviceId! };
    await alice.close();

    // 20 messages over four room keys, all shared while alice's process is gone.
    for (const body of range('while down', 20)) await bob.rooms.sendText(roomId, body);

    const asked: string[] = [];
    const again = track(new MatrixSession({ baseUrl: itEnv().baseUrl, ...credentials, logger: (l) => void (l.startsWith('->') && asked.push(l)) }));
    const after = inbox(again, roomId);
    await again.crypto.start({ storeDir: dir });
    expect((await again.crypto.status()).identityKeys).toEqual(keys);
    // The room's encryption is in the store too: known before any sync, without asking the server.
    expect(await again.crypto.isRoomEncrypted(roomId)).toBe(true);
    expect(asked.filter((l) => l.includes('/state/m.room.encryption'))).toEqual([]);
    await again.sync.start({ store: new FileSyncStore(join(dir, 'sync.json')), timeout: 1_000, filter: FILTER });
    await eventually(async () => after.messages().length >= 20, { timeoutMs: 30_000 });
    expect(after.messages().map((e) => e.content.body)).toEqual(range('while down', 20));
    expect(after.undecryptable).toEqual([]);

    // No new device per start, and the message received before the restart still decrypts.
    const devices = (await (await rawGet('/_matrix/client/v3/devices', credentials.accessToken)).json()) as { devices: { device_id: string }[] };
    expect(devices.devices.map((d) => d.device_id)).toEqual([credentials.deviceId]);
    const page = await again.rooms.messages(roomId, { limit: 50 });
    const old = page.chunk.find((e) => e.event_id === first)!;
    expect((await again.crypto.decryptEvent(old)).content.body).toBe('before the restart');
  });
});

interface ChildLine {
  body?: string;
  undecryptable?: string;
  code?: string;
  state?: string;
  started?: { curve25519: string };
  fatal?: string;
}

/** The bot of fixtures/crypto-child.ts in its own process, and what it printed. */
function startChild(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', resolve(__dirname, 'fixtures/crypto-child.ts')], {
    env: { ...process.env, ...env, TS_NODE_PROJECT: resolve(__dirname, '../../tsconfig.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: ChildLine[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as ChildLine);
    } catch {
      // not ours
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    lines,
    bodies: () => lines.filter((l) => l.body !== undefined).map((l) => l.body!),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    waitFor: (pred: (l: ChildLine) => boolean) =>
      eventually(async () => {
        const fatal = lines.find((l) => l.fatal);
        if (fatal) throw new Error(`child failed: ${fatal.fatal}`);
        return lines.find(pred);
      }, { timeoutMs: 60_000 }),
  };
}

describe('a bot process killed with SIGKILL', () => {
  it('loses no key: after the restart every message decrypts, none is left undecryptable', async () => {
    const dir = storeDir();
    const bob = await cryptoUser('bob');
    const alice = track(await newUser('alice'));
    const roomId = await rotatingRoom(bob, alice);
    const env = {
      MS_BASE_URL: itEnv().baseUrl,
      MS_TOKEN: alice.getAccessToken()!,
      MS_USER: alice.userId!,
      MS_DEVICE: alice.deviceId!,
      MS_STORE_DIR: dir,
    };

    const first = startChild(env);
    try {
      await first.waitFor((l) => l.state === 'PREPARED');
      for (const body of range('first run', 7)) await bob.rooms.sendText(roomId, body);
      await first.waitFor((l) => l.body === 'first run 6');
      // Killed while batches are arriving: between two syncs, or in the middle of one.
      const burst = Promise.all(range('burst', 4).map((body) => bob.rooms.sendText(roomId, body)));
      await first.waitFor((l) => l.body === 'burst 0' || l.body === 'burst 1' || l.body === 'burst 2' || l.body === 'burst 3');
      await first.kill();
      await burst;
    } finally {
      await first.kill();
    }
    // New room keys (rotation) while it is dead: they can only be read with the Olm sessions on disk.
    for (const body of range('while dead', 8)) await bob.rooms.sendText(roomId, body);

    const second = startChild(env);
    try {
      const started = await second.waitFor((l) => l.started !== undefined);
      expect(started.started).toEqual(first.lines.find((l) => l.started)!.started);
      await second.waitFor((l) => l.body === 'while dead 7');
      const seen = new Set([...first.bodies(), ...second.bodies()]);
      for (const body of [...range('first run', 7), ...range('burst', 4), ...range('while dead', 8)]) expect(seen).toContain(body);
      expect(second.lines.filter((l) => l.undecryptable)).toEqual([]);
      expect(first.lines.filter((l) => l.undecryptable)).toEqual([]);
    } finally {
      await second.kill();
    }
  });
});
