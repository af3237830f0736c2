// The published package as an app gets it: `npm run build`, `npm pack`, install the tarball
// into a fresh project, then load it with require() and import() in child processes.
//
// The build runs in a copy of the sources (node_modules linked), so this spec never
// rewrites the work tree's dist/ while something else (the benchmark, a linked app, another
// run of this spec) reads it. One build, one pack, one install for the whole file.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const SLOW = 240_000;

// npm would otherwise take the outer run's package and lifecycle settings from these.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|command$|config_(prefix|local_prefix|global)$)/i.test(k)),
);

async function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { cwd, env, maxBuffer: 32 * 1024 * 1024, timeout: SLOW });
    return stdout;
  } catch (error) {
    const e = error as { message: string; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

let work: string;
let consumer: string;
let packed: PackResult;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'matrix-session-pack-'));
  const src = join(work, 'src');
  for (const entry of ['lib', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'CHANGELOG.md', 'LICENSE']) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(src, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');

  await sh('npm', ['run', 'build'], src);
  const out = await sh('npm', ['pack', '--json', '--pack-destination', work], src);
  [packed] = JSON.parse(out) as PackResult[];

  // A fresh project that depends on nothing but the tarball.
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed.filename)], consumer);
}, SLOW);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs a script in the consumer project and returns what it printed as JSON. */
async function inConsumer(file: string, source: string): Promise<Record<string, unknown>> {
  writeFileSync(join(consumer, file), source);
  return JSON.parse(await sh(process.execPath, [file], consumer)) as Record<string, unknown>;
}

// The same checks from either module system; `load` gives the package's exports.
const probe = (load: string) => `
  const http = require('node:http');
  async function main() {
    const m = ${load};
    // A homeserver that refuses everything, so a real MatrixError comes back from a real request.
    const server = http.createServer((req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'M_FORBIDDEN', error: 'no' }));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const s = new m.MatrixSession({ baseUrl: 'http://127.0.0.1:' + server.address().port, maxRetries: 0 });
      const error = await s.server.versions().catch((e) => e);
      let invalid;
      try { new m.MatrixSession({ baseUrl: 'nope' }); } catch (e) { invalid = e; }
      return {
        exports: Object.keys(m).filter((k) => k !== '__esModule' && k !== 'default').sort(),
        isSession: s instanceof m.MatrixSession,
        loggedIn: s.isLoggedIn,
        dummy: m.Auth.dummy(),
        password: m.Auth.password('alice', 'pw'),
        matrixError: error instanceof m.MatrixError,
        baseError: error instanceof m.MatrixSessionError && error instanceof Error,
        errcode: error.errcode,
        httpStatus: error.httpStatus,
        validationError: invalid instanceof m.ValidationError,
        ...(await extra(m, error)),
      };
    } finally {
      server.close();
    }
  }
`;

describe('the packed tarball', () => {
  it('holds dist/ (both entries and their types) and no sources or specs', () => {
    const paths = packed.files.map((f) => f.path);
    for (const required of [
      'package.json',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/cjs/session.js',
      'dist/esm/index.mjs',
      'dist/esm/index.d.mts',
    ]) {
      expect(paths).toContain(required);
    }
    expect(paths.filter((p) => !/^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE$)/.test(p))).toEqual([]);
    expect(paths.filter((p) => /\.ts$/.test(p) && !/\.d\.m?ts$/.test(p))).toEqual([]);
  });

  it('names the encryption engine as an optional peer, and no public type needs it', () => {
    const manifest = JSON.parse(readFileSync(join(work, 'src', 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(manifest.peerDependencies).toEqual({ '@matrix-org/matrix-sdk-crypto-wasm': expect.stringMatching(/^\^18\./) });
    expect(manifest.peerDependenciesMeta).toEqual({ '@matrix-org/matrix-sdk-crypto-wasm': { optional: true } });
    // Only the engine's loader imports the package's types; nothing public imports the engine.
    const dts = packed.files.map((f) => f.path).filter((p) => /\.d\.m?ts$/.test(p));
    const imports = /(from|import\()\s*['"]@matrix-org\/matrix-sdk-crypto-wasm['"]/;
    const mentions = dts.filter((p) => imports.test(readFileSync(join(work, 'src', p), 'utf8')));
    expect(new Set(mentions.map((p) => p.replace(/^dist\/(cjs|esm)\//, '')))).toEqual(new Set(['crypto/wasm.d.ts']));
    for (const p of dts) {
      if (mentions.includes(p)) continue;
      const source = readFileSync(join(work, 'src', p), 'utf8');
      const importsEngine = /from ['"](\.\.\/crypto|\.)\/(engine|wasm)['"]/.test(source) && !/crypto\/engine\.d\.m?ts$/.test(p);
      expect([p, importsEngine]).toEqual([p, false]);
    }
  });
});

describe('the installed package', () => {
  let cjs: Record<string, unknown>;

  it('require() gives a working MatrixSession, Auth and error classes', async () => {
    cjs = await inConsumer(
      'probe.cjs',
      `${probe("require('matrix-session')")}
      async function extra() { return { resolved: require.resolve('matrix-session') }; }
      main().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`,
    );
    expect(cjs).toMatchObject({
      isSession: true,
      loggedIn: false,
      dummy: { type: 'm.login.dummy' },
      password: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'pw' },
      matrixError: true,
      baseError: true,
      errcode: 'M_FORBIDDEN',
      httpStatus: 403,
      validationError: true,
    });
    expect(cjs.resolved).toMatch(/node_modules\/matrix-session\/dist\/cjs\/index\.js$/);
  }, SLOW);

  it('import() gives the same, and errors from the ESM build are instances of the CJS classes too', async () => {
    const esm = await inConsumer(
      'probe.mjs',
      `import { createRequire } from 'node:module';
      import * as named from 'matrix-session';
      const require = createRequire(import.meta.url);
      ${probe("await import('matrix-session')")}
      async function extra(m, error) {
        const viaRequire = require('matrix-session');
        return {
          resolved: import.meta.resolve('matrix-session'),
          staticImportSame: named.MatrixSession === m.MatrixSession,
          sameClassAsCjs: m.MatrixSession === viaRequire.MatrixSession,
          errorIsCjsMatrixError: error instanceof viaRequire.MatrixError,
        };
      }
      console.log(JSON.stringify(await main()));`,
    );
    expect(esm).toMatchObject({
      isSession: true,
      loggedIn: false,
      dummy: { type: 'm.login.dummy' },
      matrixError: true,
      baseError: true,
      errcode: 'M_FORBIDDEN',
      httpStatus: 403,
      validationError: true,
      staticImportSame: true,
      sameClassAsCjs: true,
      errorIsCjsMatrixError: true,
    });
    expect(esm.resolved).toMatch(/node_modules\/matrix-session\/dist\/esm\/index\.mjs$/);
    // Every runtime export of the CommonJS build is a named export of the ES module.
    expect(esm.exports).toEqual(cjs?.exports ?? expect.any(Array));
    expect(esm.exports).toEqual(expect.arrayContaining(['MatrixSession', 'MatrixError', 'Auth', 'runUia', 'ValidationError']));
  }, SLOW);

  it('without the optional engine installed, crypto.start fails with the typed error naming it', async () => {
    const out = await inConsumer(
      'no-engine.cjs',
      `const m = require('matrix-session');
      let engine = 'installed';
      try { require.resolve('@matrix-org/matrix-sdk-crypto-wasm'); } catch { engine = 'absent'; }
      const s = new m.MatrixSession({ baseUrl: 'http://127.0.0.1:9', accessToken: 't', userId: '@a:x', deviceId: 'D' });
      s.crypto.start({ storeDir: require('node:path').join(require('node:os').tmpdir(), 'ms-no-engine-' + process.pid) }).then(
        () => console.log(JSON.stringify({ engine, started: true })),
        (e) => console.log(JSON.stringify({ engine, name: e.name, typed: e instanceof m.CryptoPackageMissingError, packageName: e.packageName })),
      );`,
    );
    expect(out).toEqual({ engine: 'absent', name: 'CryptoPackageMissingError', typed: true, packageName: '@matrix-org/matrix-sdk-crypto-wasm' });
  }, SLOW);

  it('its types resolve for both module systems (node16 resolution, strict)', async () => {
    const code = (importLine: string) => `${importLine}
      const s = new MatrixSession({ baseUrl: 'https://hs.example.org' });
      const d: AuthDict = Auth.dummy();
      s.on('login', (info) => info.userId.toUpperCase());
      export async function f(): Promise<string | undefined> {
        try {
          await s.account.login(d);
        } catch (e) {
          if (e instanceof MatrixError) return e.errcode;
        }
        return s.userId;
      }
    `;
    writeFileSync(join(consumer, 'types-esm.mts'), code("import { MatrixSession, MatrixError, Auth, type AuthDict } from 'matrix-session';"));
    writeFileSync(
      join(consumer, 'types-cjs.cts'),
      code("import { MatrixSession, MatrixError, Auth } from 'matrix-session';\nimport type { AuthDict } from 'matrix-session';"),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, noEmit: true, types: [], skipLibCheck: true },
        files: ['types-esm.mts', 'types-cjs.cts'],
      }),
    );
    await sh(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], consumer);
  }, SLOW);
});
