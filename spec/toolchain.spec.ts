// The development toolchain itself: what a contributor sees when a test fails.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '..');
const run = promisify(execFile);

it('jest reports a failing expectation at its own line of the TypeScript source', async () => {
  const fixture = join(ROOT, 'spec', 'fixtures', 'failing-line.fixture.ts');
  const line = readFileSync(fixture, 'utf8').split('\n').findIndex((l) => l.includes('FAILS HERE')) + 1;
  const config = {
    rootDir: ROOT,
    testMatch: [fixture],
    transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: join(ROOT, 'tsconfig.json') }] },
  };
  const failed = await run(process.execPath, [join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', JSON.stringify(config), '--ci'], {
    cwd: ROOT,
  }).then(
    () => undefined,
    (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
  );
  expect(failed).toBeDefined();
  expect(failed).toContain(`failing-line.fixture.ts:${line}:`);
}, 60_000);

// typedoc.json enforces `validation.notDocumented` (and `notExported`, `invalidLink`) with
// `treatWarningsAsErrors`: a public symbol without a doc comment, or a type a public signature
// names that lib/index.ts does not export, makes typedoc fail. `--emit none` checks without writing.
it('typedoc finds a doc comment for every public symbol (no warning, no error)', async () => {
  const typedoc = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const result = await run(process.execPath, [typedoc, '--emit', 'none'], { cwd: ROOT }).then(
    ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
    (e: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message }),
  );
  // eslint-disable-next-line no-control-regex
  const lines = result.output.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  const problems = lines.filter((l) => /\[(warning|error)\]/.test(l));
  // On failure the assertion shows typedoc's own lines: which symbol, in which file.
  expect(result.ok && problems.length === 0 ? [] : problems.length > 0 ? problems : [result.output]).toEqual([]);
}, 60_000);
