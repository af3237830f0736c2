// Interop with the official client: matrix-js-sdk 43 (Rust crypto) in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { itEnv } from '../harness/env';
import { cleanUp, cryptoUser, inbox } from './crypto-helpers';
import { eventually, newUser } from './helpers';

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
