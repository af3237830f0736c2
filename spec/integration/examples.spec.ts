// The examples, run as a user runs them: compiled, importing the package by its name, as their
// own processes, against the run's Synapse. `npm run demo` and `npm run bot` do the same with
// a throwaway Synapse of their own.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { itEnv } from '../harness/env';
import { newUser, PASSWORD } from './helpers';

const ROOT = resolve(__dirname, '..', '..');
const run = promisify(execFile);
let out: string;

/**
 * The examples' environment: `matrix-session` is the freshly compiled lib/ (through a package
 * of that name in node_modules), its dependencies the project's. The output lies OUTSIDE the
 * checkout on purpose: inside it, Node would resolve `matrix-session` to this package itself
 * (self-reference by its exports, which comes before node_modules) and run whatever dist/
 * holds (a stale build, or none on a clean clone) instead of the code under test.
 */
const exampleEnv = () => ({ ...process.env, MATRIX_BASE_URL: itEnv().baseUrl, NODE_PATH: join(ROOT, 'node_modules') });

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'matrix-session-examples-'));
  const tsc = join(dirname(require.resolve('typescript-7/package.json')), 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.examples.json'), '--outDir', out, '--sourceMap', 'false']);
  // What `npm install matrix-session` would give the compiled examples: the package by its name.
  mkdirSync(join(out, 'node_modules', 'matrix-session'), { recursive: true });
  writeFileSync(join(out, 'node_modules', 'matrix-session', 'package.json'), JSON.stringify({ name: 'matrix-session', main: '../../lib/index.js' }));
}, 60_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the demo prints the transcript of a conversation', async () => {
  const { stdout } = await run(process.execPath, [join(out, 'examples', 'demo.js')], { env: exampleEnv() });
  expect(stdout).toMatch(/Transcript/);
  expect(stdout).toMatch(/@alice-[^:]+:[^ ]+: Hello Bob!/);
  expect(stdout).toMatch(/@bob-[^:]+:[^ ]+: Got them all, thanks Alice!/);
  expect(stdout).toMatch(/Both users logged out/);
});

it('the echo bot joins when invited and answers a message', async () => {
  const bot = await newUser('echo');
  const botId = bot.userId!;
  await bot.account.logout(); // the bot process logs in by itself, with its password
  const alice = await newUser('alice');
  const child = spawn(process.execPath, [join(out, 'examples', 'echo-bot.js')], {
    env: { ...exampleEnv(), MATRIX_USER: botId, MATRIX_PASSWORD: PASSWORD, BOT_SYNC_STORE: join(out, 'bot.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const { room_id: roomId } = await alice.rooms.create({ invite: [botId] });
    const answered = new Promise<string>((resolve) =>
      alice.on('room.message', (room, event) => {
        if (room === roomId && event.sender === botId) resolve(String(event.content.body));
      }),
    );
    const joined = new Promise<void>((resolve) =>
      alice.on('room.state', (room, event) => {
        if (room === roomId && event.state_key === botId && event.content.membership === 'join') resolve();
      }),
    );
    await alice.sync.start({ timeout: 1_000 });
    // Each wait ends well within the test's own timeout, with what the bot printed, so a
    // failure says why and the finally block still stops everything this test started.
    const died = exited.then((code) => Promise.reject(new Error(`the bot exited (${code}):\n${output}`)));
    const within = <T>(p: Promise<T>, what: string) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within 20 s; the bot printed:\n${output}`)), 20_000)));
      return Promise.race([p, died, late]).finally(() => clearTimeout(timer));
    };
    await within(joined, 'the bot did not join');
    await alice.rooms.sendText(roomId, 'ping 42');
    expect(await within(answered, 'the bot did not answer')).toBe('echo: ping 42');
    expect(output).toContain(`bot: ${botId} is listening`);
    expect(output).toContain(`said "ping 42"`);
  } finally {
    await alice.close();
    child.kill('SIGINT');
  }
  expect(await exited).toBe(0); // SIGINT stops the loop and closes the session: a clean exit
});
