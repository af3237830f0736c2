// Runs one of examples/*.ts as a new user would see it: `npm run demo`, `npm run bot`.
// Synapse is installed only when no MATRIX_BASE_URL points at a homeserver of one's own.
// The package is built first because the examples import it by name, as an app does
// (Node resolves `matrix-session` to this package's own dist/ by its exports).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.argv[2];
if (!name) throw new Error('usage: node scripts/example.mjs <example name>');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

try {
  if (!process.env.MATRIX_BASE_URL) run('bash', [join(root, 'scripts', 'install-synapse.sh')]);
  run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript-7/package.json')), 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', join(root, 'tsconfig.examples.json')]);
  run(process.execPath, [join(root, '.build', 'examples', `${name}.js`)]);
} catch (error) {
  // The failing step has printed its own output; do not add a stack trace of this script.
  process.exitCode = typeof error?.status === 'number' ? error.status : 1;
}
