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
