// The published package as an app gets it: `npm run build`, `npm pack`, install the tarball
// into a fresh project, then load it with require() and import() in child processes.
//
// The build runs in a copy of the sources (node_modules linked), so this spec never
// rewrites the work tree's dist/ while something else (the benchmark, a linked app, another
// run of this spec) reads it. One build, one pack, one install for the whole file.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'matrix-session-pack-'));
  // What a clean clone holds: the tracked files and new ones not ignored, so no dist/ (npm
  // pack must build it through `prepack`) and no other leftovers of this work tree.
  const src = join(work, 'src');
  const files = (await sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT)).split('\0').filter(Boolean);
  for (const file of files) {
    if (file.startsWith('node_modules/') || !existsSync(join(ROOT, file))) continue;
    mkdirSync(dirname(join(src, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(src, file));
  }
  expect(existsSync(join(src, 'dist'))).toBe(false);
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');

  const out = await sh('npm', ['pack', '--json', '--pack-destination', work], src);
  [packed] = JSON.parse(out) as PackResult[];
  tarball = join(work, packed.filename);

  // A fresh project that depends on nothing but the tarball (and, for the type checks, the
  // Node types an app on Node has anyway).
  consumer = join(work, 'consumer');
  mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], consumer);
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'undici-types'), join(consumer, 'node_modules', 'undici-types'), 'dir');
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
  it('is built by prepack from a clean clone: dist/ with source and declaration maps, the sources they point to, LICENSE', () => {
    const paths = packed.files.map((f) => f.path);
    for (const required of [
      'package.json',
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'dist/cjs/index.js',
      'dist/cjs/index.js.map',
      'dist/cjs/index.d.ts',
      'dist/cjs/index.d.ts.map',
      'dist/cjs/package.json',
      'dist/cjs/session.js',
      'dist/esm/index.mjs',
      'dist/esm/index.d.mts',
      'lib/index.ts',
      'lib/session.ts',
    ]) {
      expect(paths).toContain(required);
    }
    // Nothing else: no specs, scripts, benchmarks or configuration.
    expect(paths.filter((p) => !/^(dist\/|lib\/.*\.ts$|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE$)/.test(p))).toEqual([]);
  });

  it('has a map for every compiled file, and each map points at a shipped source', () => {
    const paths = new Set(packed.files.map((f) => f.path));
    const compiled = [...paths].filter((p) => /^dist\/cjs\/.*\.(js|d\.ts)$/.test(p));
    expect(compiled.length).toBeGreaterThan(20);
    const installed = join(consumer, 'node_modules', 'matrix-session');
    for (const file of compiled) {
      expect(paths).toContain(`${file}.map`);
      const map = JSON.parse(readFileSync(join(installed, `${file}.map`), 'utf8')) as { sources: string[] };
      for (const source of map.sources) expect(paths).toContain(join(dirname(file), source));
    }
  });

  it('passes publint and "are the types wrong" (CommonJS and ESM, node10, node16, bundler)', async () => {
    const bin = (pkg: string, file: string) => join(ROOT, 'node_modules', pkg, file);
    const publint = await sh(process.execPath, [bin('publint', 'src/cli.js'), '--strict', join(consumer, 'node_modules', 'matrix-session')], work);
    expect(publint).toMatch(/All good/);
    const attw = await sh(process.execPath, [bin('@arethetypeswrong/cli', 'dist/index.js'), '--format', 'json', tarball], work);
    const report = JSON.parse(attw) as { analysis: { problems: unknown[] } };
    expect(report.analysis.problems).toEqual([]);
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

  // The oldest TypeScript the README promises and the current one; no skipLibCheck, so our
  // declarations themselves are checked by each compiler. (6.x runs ts-jest and typedoc.)
  const COMPILERS = ['typescript-5', 'typescript-7'];

  it("its types, and the README's TypeScript snippets, compile with node16 and bundler resolution on TypeScript 5.0 and 7", async () => {
    const code = (importLine: string) => `${importLine}
      const s = new MatrixSession({ baseUrl: 'https://hs.example.org' });
      const d: AuthDict = Auth.dummy();
      s.on('login', (info) => info.userId.toUpperCase());
      s.on('room.message', (roomId, event) => roomId.length + String(event.content.body).length);
      export async function f(): Promise<string | undefined> {
        try {
          await s.account.login(d);
        } catch (e) {
          if (e instanceof MatrixError) return e.errcode;
        }
        return s.userId;
      }
    `;
    const esm = "import { MatrixSession, MatrixError, Auth, type AuthDict } from 'matrix-session';";
    writeFileSync(join(consumer, 'types-esm.mts'), code(esm));
    writeFileSync(join(consumer, 'types-cjs.cts'), code("import { MatrixSession, MatrixError, Auth } from 'matrix-session';\nimport type { AuthDict } from 'matrix-session';"));
    writeFileSync(join(consumer, 'types-bundler.ts'), code(esm));

    // The README's snippets are ES modules (top-level await) and must compile as they stand.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(snippets.length).toBeGreaterThanOrEqual(4);
    const files = snippets.map((snippet, i) => {
      writeFileSync(join(consumer, `readme-${i}.mts`), `${snippet}\nexport {};\n`);
      return `readme-${i}.mts`;
    });

    const strict = { target: 'ES2022', strict: true, noEmit: true, types: ['node'], noUnusedLocals: true };
    const node16 = { compilerOptions: { ...strict, module: 'node16', moduleResolution: 'node16' }, files: ['types-esm.mts', 'types-cjs.cts', ...files] };
    writeFileSync(join(consumer, 'tsconfig.node16.json'), JSON.stringify(node16));
    writeFileSync(join(consumer, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...strict, module: 'esnext', moduleResolution: 'bundler' }, files: ['types-bundler.ts'] }));
    for (const compiler of COMPILERS) {
      for (const config of ['tsconfig.node16.json', 'tsconfig.bundler.json']) await sh(process.execPath, [tsc(compiler), '-p', config], consumer);
    }
  }, SLOW);
});

/** A compiler's command-line script (TypeScript 7 exports no ./bin path, so it is found beside its package.json). */
function tsc(pkg: string): string {
  return join(ROOT, 'node_modules', pkg, 'bin', 'tsc');
}
