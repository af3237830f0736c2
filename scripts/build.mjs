// Builds the CommonJS output with tsc, then a thin ES-module entry over it. One
// implementation serves both `import` and `require`, so there is a single session
// class and a single error hierarchy whichever way an app loads the package.
//
// The build goes to a staging directory that replaces dist/ only once it is complete and
// its ESM entry loads: a failed build leaves the previous dist/ in place, and a reader of
// dist/ (the benchmark, a linked app) never sees a half-written one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const staging = join(root, `dist.staging-${process.pid}`);
const require = createRequire(import.meta.url);

rmSync(staging, { recursive: true, force: true });
try {
  // TypeScript 7 (the native compiler) builds; the `typescript` package (6.x) is kept for
  // the tools that need its JavaScript API (ts-jest, typedoc).
  // (Its package exports no ./bin/tsc, so the script is found next to its package.json.)
  const tsc = join(dirname(require.resolve('typescript-7/package.json', { paths: [root] })), 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(staging, 'cjs')], {
    stdio: 'inherit',
  });
  writeFileSync(join(staging, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');

  // Named ESM exports for every runtime export of the CommonJS build.
  const names = Object.keys(require(join(staging, 'cjs', 'index.js'))).filter((n) => n !== '__esModule' && n !== 'default');
  mkdirSync(join(staging, 'esm'), { recursive: true });
  writeFileSync(
    join(staging, 'esm', 'index.mjs'),
    `import cjs from '../cjs/index.js';\nexport const { ${names.join(', ')} } = cjs;\n`,
  );
  writeFileSync(join(staging, 'esm', 'index.d.mts'), `export * from '../cjs/index.js';\n`);

  const esm = await import(pathToFileURL(join(staging, 'esm', 'index.mjs')).href);
  const missing = names.filter((n) => esm[n] === undefined);
  if (missing.length > 0) throw new Error(`the ESM entry lacks ${missing.join(', ')}`);

  rmSync(dist, { recursive: true, force: true });
  renameSync(staging, dist);
  // On stderr: `npm pack --json` runs this as prepack, and its stdout must stay JSON.
  console.error(`built dist/cjs and dist/esm (${names.length} exports)`);
} catch (error) {
  rmSync(staging, { recursive: true, force: true });
  console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
