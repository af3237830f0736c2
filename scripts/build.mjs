// Builds the CommonJS output with tsc, then a thin ES-module entry over it. One
// implementation serves both `import` and `require`, so there is a single session
// class and a single error hierarchy whichever way an app loads the package.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');

const names = Object.keys(createRequire(import.meta.url)('../dist/cjs/index.js')).filter((n) => n !== '__esModule');
mkdirSync('dist/esm', { recursive: true });
writeFileSync(
  'dist/esm/index.mjs',
  `import cjs from '../cjs/index.js';\nexport const { ${names.join(', ')} } = cjs;\n`,
);
writeFileSync('dist/esm/index.d.mts', `export * from '../cjs/index.js';\n`);
console.log(`built dist/cjs and dist/esm (${names.length} exports)`);
