// Interop with the official client: matrix-js-sdk 43 (Rust crypto) in a child process.
// Messages both ways, cross-signing, encrypted attachments both ways (the peer encrypts and
// decrypts them with WebCrypto as Element does) and key backups both ways (recovery keys).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { AttachmentHashError, Auth, type EncryptedFile, type MatrixSession } from '../../lib';
import { itEnv } from '../harness/env';
import { makePng } from '../helpers/png';
import { backedUp, backedUpHistory, cleanUp, cryptoUser, inbox, storeDir, track } from './crypto-helpers';
import { anonSession, eventually, newUser, PASSWORD } from './helpers';

jest.setTimeout(120_000);

interface PeerEvent {
  roomId: string;
  eventId: string;
  sender: string;
  type: string;
  content: Record<string, unknown>;
  encrypted: boolean;
  failure: boolean;
}

/** matrix-js-sdk in a child process (fixtures/js-sdk-peer.mjs), logged in as `user`. */
async function startPeer(user: { token: string; userId: string; deviceId: string }) {
  const child: ChildProcess = spawn(process.execPath, [resolve(__dirname, 'fixtures/js-sdk-peer.mjs')], {
    env: { ...process.env, PEER_BASE_URL: itEnv().baseUrl, PEER_TOKEN: user.token, PEER_USER: user.userId, PEER_DEVICE: user.deviceId },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const events: PeerEvent[] = [];
  const replies = new Map<number, { result?: Record<string, unknown>; error?: string }>();
  let ready = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: { id?: number; event?: PeerEvent; ready?: boolean; result?: Record<string, unknown>; error?: string };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.ready) ready = true;
    if (msg.event) events.push(msg.event);
    if (msg.id !== undefined) replies.set(msg.id, msg);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let next = 0;
  const call = async (cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    const id = next++;
    child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    const reply = await eventually(async () => replies.get(id), { timeoutMs: 60_000 });
    if (reply.error) throw new Error(`js-sdk peer: ${reply.error}`);
    return reply.result!;
  };
  await eventually(async () => ready, { timeoutMs: 60_000 });
  return {
    events,
    call,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
afterEach(async () => {
  await peer?.stop();
  peer = undefined;
  await cleanUp();
});

const token = (s: MatrixSession) => ({ token: s.getAccessToken()!, userId: s.userId!, deviceId: s.deviceId! });
const b64 = (b: Buffer) => b.toString('base64');

/** An encrypted room of the bot (matrix-session) with the peer's user (matrix-js-sdk) in it. */
async function botAndPeer() {
  const bot = await cryptoUser('bot');
  const human = await newUser('human');
  peer = await startPeer(token(human));
  const { room_id: roomId } = await bot.rooms.create({ invite: [human.userId!], encrypted: true, isDirect: true, preset: 'trusted_private_chat' });
  await peer.call('join', { roomId });
  return { bot, human, peer, roomId };
}

/** A new device of `user` (a new login): what a redeployed bot or a new Element session is. */
async function newDevice(user: MatrixSession): Promise<MatrixSession> {
  const device = track(anonSession());
  await device.account.login(Auth.password(user.userId!, PASSWORD));
  expect(device.deviceId).not.toBe(user.deviceId);
  return device;
}

describe('matrix-session and matrix-js-sdk in an encrypted room', () => {
  it('js-sdk sends, matrix-session decrypts; matrix-session sends, js-sdk decrypts; js-sdk sees the bot cross-signed', async () => {
    const bot = await cryptoUser('bot');
    const human = await newUser('human');
    peer = await startPeer({ token: human.getAccessToken()!, userId: human.userId!, deviceId: human.deviceId! });
    const { room_id: roomId } = await bot.rooms.create({ invite: [human.userId!], encrypted: true, isDirect: true, preset: 'trusted_private_chat' });
    await peer.call('join', { roomId });
    const atBot = inbox(bot, roomId);

    const { eventId: fromJs } = (await peer.call('send', { roomId, body: 'hello from js-sdk' })) as { eventId: string };
    const got = await atBot.waitFor((e) => e.event_id === fromJs);
    expect(got).toMatchObject({ type: 'm.room.message', sender: human.userId, content: { body: 'hello from js-sdk' } });
    expect(got.encryption?.senderDevice).toBe(human.deviceId);

    const { event_id: fromBot } = await bot.rooms.reply({ ...got, room_id: roomId }, 'hello from matrix-session');
    const seen = await eventually(async () => peer!.events.find((e) => e.eventId === fromBot), { timeoutMs: 30_000 });
    expect(seen).toMatchObject({ encrypted: true, failure: false, type: 'm.room.message', content: { body: 'hello from matrix-session' } });

    // The bot's device, unsigned at first, is cross-signed by its owner once bootstrapped.
    const before = await peer.call('verification', { userId: bot.userId, deviceId: bot.deviceId });
    expect(before.signedByOwner).toBe(false);
    await bot.crypto.bootstrapCrossSigning();
    await eventually(
      async () => {
        await peer!.call('refreshKeys', { userId: bot.userId });
        return (await peer!.call('verification', { userId: bot.userId, deviceId: bot.deviceId })).signedByOwner === true;
      },
      { timeoutMs: 30_000, everyMs: 500 },
    );
  });
});

describe('encrypted attachments between matrix-session and matrix-js-sdk', () => {
  it('an image (with a thumbnail) sent by matrix-session is decrypted by js-sdk, downloaded with its token and decrypted with WebCrypto as Element does', async () => {
    const { bot, peer, roomId } = await botAndPeer();
    const png = makePng(48, 32);
    const thumb = makePng(12, 8);
    const sent = await bot.rooms.sendImage(roomId, png, { filename: 'plot.png', thumbnail: { data: thumb } });

    const seen = await eventually(async () => peer.events.find((e) => e.eventId === sent.event_id && !e.failure), { timeoutMs: 30_000 });
    expect(seen).toMatchObject({ encrypted: true, type: 'm.room.message', content: { msgtype: 'm.image', body: 'plot.png', info: { mimetype: 'image/png', w: 48, h: 32 } } });
    expect(seen.content.url).toBeUndefined();
    const got = (await peer.call('attachment', { roomId, eventId: sent.event_id })) as { data: string; thumbnail: string };
    expect(Buffer.from(got.data, 'base64').equals(png)).toBe(true);
    expect(Buffer.from(got.thumbnail, 'base64').equals(thumb)).toBe(true);
  });

  it('files js-sdk encrypts as Element does (WebCrypto AES-CTR, JWK, unpadded base64) are decrypted by media.downloadBuffer and downloadToFile; padded spellings too; a tampered hash is refused', async () => {
    const { bot, human, peer, roomId } = await botAndPeer();
    const atBot = inbox(bot, roomId);
    const dir = mkdtempSync(join(tmpdir(), 'ms-interop-'));
    try {
      const png = makePng(64, 40);
      const blob = randomBytes(300_000); // several chunks of the download stream
      const send = async (data: Buffer, extra: Record<string, unknown>) => {
        const { eventId } = (await peer.call('sendAttachment', { roomId, data: b64(data), ...extra })) as { eventId: string };
        const event = await atBot.waitFor((e) => e.event_id === eventId, 30_000);
        expect(event.encryption?.senderDevice).toBe(human.deviceId);
        return event.content as { msgtype: string; body: string; info: Record<string, unknown>; file: EncryptedFile };
      };

      const image = await send(png, { msgtype: 'm.image', name: 'photo.png', mimetype: 'image/png', extraInfo: { w: 64, h: 40 } });
      expect(image).toMatchObject({ msgtype: 'm.image', body: 'photo.png', info: { mimetype: 'image/png', size: png.length, w: 64, h: 40 } });
      // Element's spelling: WebCrypto's JWK, unpadded standard base64 for the IV and the hash.
      expect(image.file).toMatchObject({ v: 'v2', key: { kty: 'oct', alg: 'A256CTR', ext: true, key_ops: ['encrypt', 'decrypt'] } });
      expect(image.file.iv).toMatch(/^[A-Za-z0-9+/]{22}$/);
      expect(image.file.hashes.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
      expect((await bot.media.downloadBuffer(image.file)).data.equals(png)).toBe(true);
      const saved = await bot.media.downloadToFile(image.file, join(dir, 'photo.png'));
      expect(saved.bytes).toBe(png.length);
      expect(readFileSync(join(dir, 'photo.png')).equals(png)).toBe(true);

      const file = await send(blob, { msgtype: 'm.file', name: 'data.bin', mimetype: 'application/octet-stream' });
      expect((await bot.media.downloadBuffer(file.file)).data.equals(blob)).toBe(true);
      await bot.media.downloadToFile(file.file, join(dir, 'data.bin'));
      expect(readFileSync(join(dir, 'data.bin')).equals(blob)).toBe(true);

      const padded = await send(png, { msgtype: 'm.image', name: 'padded.png', mimetype: 'image/png', spelling: 'padded' });
      expect(padded.file.hashes.sha256).toMatch(/=$/);
      expect((await bot.media.downloadBuffer(padded.file)).data.equals(png)).toBe(true);

      const tampered = await send(png, { msgtype: 'm.image', name: 'tampered.png', mimetype: 'image/png', tamper: true });
      await expect(bot.media.downloadBuffer(tampered.file)).rejects.toBeInstanceOf(AttachmentHashError);
      await expect(bot.media.downloadToFile(tampered.file, join(dir, 'tampered.png'))).rejects.toBeInstanceOf(AttachmentHashError);
      expect(readdirSync(dir).sort()).toEqual(['data.bin', 'photo.png']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('key backups between matrix-session and matrix-js-sdk (recovery keys)', () => {
  it('js-sdk restores the backup matrix-session created, from its recovery key, and decrypts the history', async () => {
    const bot = await cryptoUser('bot');
    const { recoveryKey, backupVersion, sent } = await backedUpHistory(bot, await cryptoUser('other'), ['before 1', 'before 2']);

    // The bot's user on a new device with matrix-js-sdk: the history is undecryptable, until the restore.
    peer = await startPeer(token(await newDevice(bot)));
    const restored = (await peer.call('restoreBackup', { recoveryKey })) as { imported: number; version: string };
    expect(restored.version).toBe(backupVersion);
    expect(restored.imported).toBeGreaterThanOrEqual(1);
    for (const [i, eventId] of sent.entries()) {
      const seen = await eventually(async () => peer!.events.find((e) => e.eventId === eventId && !e.failure), { timeoutMs: 30_000 });
      expect(seen.content).toMatchObject({ body: `before ${i + 1}` });
    }
  });

  it('matrix-session restores the backup js-sdk created, from the recovery key js-sdk encoded, and decrypts the history', async () => {
    const { bot, human, peer, roomId } = await botAndPeer();
    const { recoveryKey, version } = (await peer.call('createBackup')) as { recoveryKey: string; version: string };
    const atBot = inbox(bot, roomId);
    const sent: string[] = [];
    for (const body of ['js 1', 'js 2']) sent.push(((await peer.call('send', { roomId, body })) as { eventId: string }).eventId);
    await atBot.waitFor((e) => e.event_id === sent[1], 30_000);
    await backedUp(human, 1);

    // The peer's user on a new device with matrix-session.
    const device = await newDevice(human);
    await device.crypto.start({ storeDir: storeDir() });
    const history = (await device.rooms.messages(roomId, { limit: 50 })).chunk.filter((e) => sent.includes(e.event_id)).reverse();
    expect(history).toHaveLength(2);
    await expect(device.crypto.decryptEvent(history[0])).rejects.toMatchObject({ info: { code: 'MissingRoomKey' } });
    const restored = await device.crypto.restoreBackup(recoveryKey);
    expect(restored).toMatchObject({ version });
    expect(restored.imported).toBeGreaterThanOrEqual(1);
    const bodies = await Promise.all(history.map(async (e) => (await device.crypto.decryptEvent(e)).content.body));
    expect(bodies).toEqual(['js 1', 'js 2']);
  });
});
