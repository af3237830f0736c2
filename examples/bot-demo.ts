// `npm run bot`: the echo bot (examples/echo-bot.ts) runs as its own process against a
// throwaway local Synapse; a second user invites it, says something, and prints the answer.
// With MATRIX_BASE_URL set, that homeserver is used instead (it must allow registration).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixSession } from 'matrix-session';
import { startSynapse, type SynapseHandle } from '../spec/harness/synapse';

async function main(): Promise<void> {
  let synapse: SynapseHandle | undefined;
  let baseUrl = process.env.MATRIX_BASE_URL;
  if (!baseUrl) {
    console.log('Starting a local Synapse…');
    synapse = await startSynapse({ log: () => undefined });
    baseUrl = synapse.baseUrl;
  }
  const work = mkdtempSync(join(tmpdir(), 'echo-bot-'));
  const suffix = Date.now().toString(36);
  const botPassword = `bot-${suffix}-${Math.random().toString(36).slice(2)}`;
  const bot = new MatrixSession({ baseUrl });
  const alice = new MatrixSession({ baseUrl });
  try {
    await bot.account.register({ username: `echo-bot-${suffix}`, password: botPassword });
    await alice.account.register({ username: `alice-${suffix}`, password: `alice-${suffix}-pw` });
    // The bot process logs in with its password, as a deployed bot would; this session is done.
    const botId = bot.userId!;
    await bot.account.logout();

    const child = spawn(process.execPath, [join(__dirname, 'echo-bot.js')], {
      env: { ...process.env, MATRIX_BASE_URL: baseUrl, MATRIX_USER: botId, MATRIX_PASSWORD: botPassword, BOT_SYNC_STORE: join(work, 'sync.json') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const listening = new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        process.stdout.write(chunk.replace(/^(?=.)/gm, '  '));
        if (chunk.includes('is listening')) resolve();
      });
    });
    await Promise.race([listening, exited.then(() => Promise.reject(new Error('the bot exited early')))]);

    const { room_id: roomId } = await alice.rooms.create({ name: 'Echo test', invite: [botId] });
    console.log(`${alice.userId} created ${roomId} and invited ${botId}`);
    const answer = new Promise<string>((resolve) => {
      alice.on('room.message', (room, event) => {
        if (room === roomId && event.sender === botId) resolve(String(event.content.body));
      });
    });
    const joined = new Promise<void>((resolve) => {
      alice.on('room.state', (room, event) => {
        if (room === roomId && event.type === 'm.room.member' && event.state_key === botId && event.content.membership === 'join') resolve();
      });
    });
    await alice.sync.start({ timeout: 5_000 });
    await withTimeout(joined, 30_000, 'the bot did not join');
    await alice.rooms.sendText(roomId, 'Hello, bot!');
    console.log(`${alice.userId}: Hello, bot!`);
    const reply = await withTimeout(answer, 30_000, 'the bot did not answer');
    console.log(`${botId}: ${reply}`);

    await alice.sync.stop();
    child.kill('SIGINT');
    await exited;
    console.log('\nThe bot stopped.');
  } finally {
    await alice.close();
    await bot.close();
    rmSync(work, { recursive: true, force: true });
    if (synapse) {
      await synapse.stop();
      rmSync(synapse.dataDir, { recursive: true, force: true });
      console.log('Local Synapse stopped.');
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
