// Starts a real Synapse (from the project-local venv) for the integration tests.
// No SDK code here on purpose: the harness must keep working while lib/ is broken.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The checkout's root: the nearest folder up with a package.json (this file also runs compiled, from .build/). */
export const PROJECT_ROOT = (() => {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(__dirname, '..', '..');
  }
})();
const VENV_PYTHON = join(PROJECT_ROOT, '.venv-synapse', 'bin', 'python');

export interface StartSynapseOptions {
  /** Data dir to use (created if missing). Default: a fresh dir under /dev/shm (tmpfs: faster SQLite migrations). */
  dataDir?: string;
  /** Client port. Default: a free port. */
  port?: number;
  /** SMTP sink port. Without it, no `email` block is written (no email validation flows). */
  mailPort?: number;
  /** Merged (deeply, objects only; arrays and scalars replace) over the generated config. */
  extraConfig?: Record<string, unknown>;
  log?: (line: string) => void;
}

export interface SynapseHandle {
  baseUrl: string;
  port: number;
  serverName: string;
  dataDir: string;
  registrationSharedSecret: string;
  /** `server_version` from the admin API, refreshed on each start. */
  version: string;
  logFile: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  logTail(n?: number): string;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no port from listen(0)'))));
    });
  });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  return out;
}

/** Synapse's `max_upload_size` for the run (M = MiB): what `media.config()` reports as m.upload.size. */
export const MAX_UPLOAD_SIZE = '41M';

// Every limiter high. Never 0: per_second 0 divides by zero inside Synapse's ratelimiter.
const HIGH = { per_second: 10000, burst_count: 10000 };
const RATE_LIMITS: Obj = {
  rc_message: HIGH,
  rc_registration: HIGH,
  rc_registration_token_validity: HIGH,
  rc_login: { address: HIGH, account: HIGH, failed_attempts: HIGH },
  rc_admin_redaction: HIGH,
  rc_joins: { local: HIGH, remote: HIGH },
  rc_joins_per_room: HIGH,
  rc_3pid_validation: HIGH,
  rc_invites: { per_room: HIGH, per_user: HIGH, per_issuer: HIGH },
  rc_third_party_invite: HIGH,
  rc_media_create: HIGH,
  rc_presence: { per_user: HIGH },
  rc_delayed_event_mgmt: HIGH,
  rc_reports: HIGH,
  rc_room_creation: HIGH,
  rc_user_directory: HIGH,
  rc_profile: HIGH, // new since the reference notes (seen in 1.163's config/ratelimiting.py)
  rc_key_requests: HIGH,
  rc_federation: { window_size: 1000, sleep_limit: 1000, sleep_delay: 500, reject_limit: 1000, concurrent: 100 },
};

function buildConfig(dataDir: string, port: number, secret: string, mailPort?: number): Obj {
  const secretOf = (what: string): string => `${what}-${randomBytes(16).toString('hex')}`;
  return {
    server_name: 'localhost',
    public_baseurl: `http://127.0.0.1:${port}/`, // base of the links in validation emails
    report_stats: false,
    pid_file: join(dataDir, 'homeserver.pid'),
    // 127.0.0.1 only: binding ::1 is fatal where IPv6 is off.
    listeners: [{ port, type: 'http', tls: false, x_forwarded: false, bind_addresses: ['127.0.0.1'],
      resources: [{ names: ['client'], compress: false }] }],
    database: { name: 'sqlite3', args: { database: join(dataDir, 'homeserver.db') } },
    media_store_path: join(dataDir, 'media_store'),
    // Just above the largest body the media specs upload (40 MiB): an over-limit upload is
    // refused by the SDK before it is sent, and the 40 MiB ones still fit.
    max_upload_size: MAX_UPLOAD_SIZE,
    signing_key_path: join(dataDir, 'localhost.signing.key'), // generated on first start
    trusted_key_servers: [],
    registration_shared_secret: secret,
    macaroon_secret_key: secretOf('macaroon'),
    form_secret: secretOf('form'),
    enable_registration: true,
    enable_registration_without_verification: true,
    allow_guest_access: true,
    bcrypt_rounds: 4,
    refreshable_access_token_lifetime: '5s', // only affects clients that ask for refresh tokens
    user_directory: { enabled: true, search_all_users: true },
    room_list_publication_rules: [{ action: 'allow' }],
    allow_public_rooms_without_auth: true,
    federation_domain_whitelist: ['localhost'], // remote lookups fail fast (403) instead of DNS timeouts
    caches: { sync_response_cache_duration: 0 }, // else identical /sync calls get a 2-minute-old cached answer
    background_updates: { sleep_enabled: false },
    ...(mailPort === undefined ? {} : {
      email: { smtp_host: '127.0.0.1', smtp_port: mailPort, force_tls: false, require_transport_security: false,
        enable_tls: false, notif_from: 'Synapse Test <synapse@localhost>', app_name: 'Matrix',
        enable_notifs: false, validation_token_lifetime: '1h' },
    }),
    ...RATE_LIMITS,
  };
}

function tail(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n - 1).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<Obj> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Obj;
}

export async function startSynapse(opts: StartSynapseOptions = {}): Promise<SynapseHandle> {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error(`Synapse is not installed (${VENV_PYTHON} missing): run \`npm run synapse:install\``);
  }
  const log = opts.log ?? ((line: string) => console.log(line));
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dataDir = opts.dataDir ?? mkdtempSync(join(shm, 'matrix-it-'));
  mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const secret = `shared-${randomBytes(16).toString('hex')}`;
  const configFile = join(dataDir, 'homeserver.yaml');
  // JSON is valid YAML, so no YAML dependency is needed.
  const config = deepMerge(buildConfig(dataDir, port, secret, opts.mailPort), opts.extraConfig ?? {});
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const logFile = join(dataDir, 'synapse.log');
  const baseUrl = `http://127.0.0.1:${port}`; // not "localhost": Node may resolve it to ::1 first

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  // If the runner dies without teardown, don't leave an orphaned Synapse behind.
  const killOnExit = (): void => void child?.kill('SIGKILL');
  process.on('exit', killOnExit);

  async function waitReady(isDone: () => boolean, why: () => string): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (isDone()) {
        throw new Error(`Synapse exited during startup (${why()}); tail of ${logFile}:\n${handle.logTail(40)}`);
      }
      try {
        const res = await fetch(`${baseUrl}/_matrix/client/versions`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`Synapse not ready after 120 s; tail of ${logFile}:\n${handle.logTail(40)}`);
      await sleep(250);
    }
    const sv = await getJson(`${baseUrl}/_synapse/admin/v1/server_version`);
    const versions = await getJson(`${baseUrl}/_matrix/client/versions`);
    handle.version = String(sv.server_version);
    const list = Array.isArray(versions.versions) ? versions.versions.join(' ') : '?';
    log(`synapse ${handle.version} at ${baseUrl} (data ${dataDir}); client versions: ${list}`);
  }

  const handle: SynapseHandle = {
    baseUrl, port, serverName: 'localhost', dataDir, registrationSharedSecret: secret, version: '', logFile,
    logTail: (n = 40) => tail(logFile, n),
    async start() {
      if (child) throw new Error('Synapse already running');
      const fd = openSync(logFile, 'a'); // without log_config Synapse logs INFO to stderr
      const proc = spawn(VENV_PYTHON, ['-m', 'synapse.app.homeserver', '-c', configFile],
        // The venv sits inside this git work tree; Synapse would append " (b=<branch>,<sha>)" of *our*
        // repo to its version. The ceiling stops git's repository discovery above the venv.
        { cwd: dataDir, stdio: ['ignore', fd, fd], env: { ...process.env, GIT_CEILING_DIRECTORIES: PROJECT_ROOT } });
      closeSync(fd);
      child = proc;
      let done = false;
      let spawnError: Error | undefined;
      exited = new Promise((res) => {
        const onEnd = (): void => { done = true; child = undefined; res(); };
        proc.once('exit', onEnd);
        proc.once('error', (e) => { spawnError = e; onEnd(); }); // e.g. ENOENT: no 'exit' follows
      });
      try {
        await waitReady(() => done, () => `${spawnError?.message ?? proc.exitCode ?? proc.signalCode}`);
      } catch (e) {
        await handle.stop(); // never leave a half-started server behind
        throw e;
      }
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      proc.kill('SIGTERM'); // Twisted shuts down cleanly on SIGTERM
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer); // a pending timer would keep jest's parent process alive
    },
  };
  await handle.start();
  return handle;
}
