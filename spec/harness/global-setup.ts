// jest globalSetup (integration project): one mail sink + one Synapse for the whole run,
// handed to the workers (separate processes) through process.env.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debug } from './debug';
import { startMailSink, type MailSink } from './mail-sink';
import { PROJECT_ROOT, startSynapse, type SynapseHandle } from './synapse';

export interface HarnessState {
  synapse: SynapseHandle;
  mail: MailSink;
}
// globalSetup and globalTeardown run in the same process and context, so globalThis carries the handles.
export const STATE_KEY = '__matrixItHarness';

export default async function globalSetup(): Promise<void> {
  if (process.env.MATRIX_IT_BASE_URL) {
    const url = process.env.MATRIX_IT_BASE_URL;
    const res = await fetch(`${url}/_matrix/client/versions`).catch((e: Error) => {
      throw new Error(`MATRIX_IT_BASE_URL=${url} is not reachable: ${e.message}`);
    });
    if (!res.ok) throw new Error(`MATRIX_IT_BASE_URL=${url}: /versions answered HTTP ${res.status}`);
    debug(`[integration] using the running homeserver at ${url}`);
    return;
  }
  // Quick no-op when installed; otherwise installs (or fails with the reason) instead of skipping tests.
  execFileSync('bash', [join(PROJECT_ROOT, 'scripts', 'install-synapse.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });

  const t0 = Date.now();
  const dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'matrix-it-'));
  const mail = await startMailSink(join(dataDir, 'mail'));
  let startLine = '';
  let synapse: SynapseHandle;
  try {
    synapse = await startSynapse({ dataDir, mailPort: mail.port, log: (l) => (startLine = l) });
  } catch (e) {
    await mail.close();
    throw e; // carries the reason and Synapse's log tail
  }
  (globalThis as Record<string, unknown>)[STATE_KEY] = { synapse, mail } satisfies HarnessState;
  Object.assign(process.env, {
    MATRIX_IT_BASE_URL: synapse.baseUrl,
    MATRIX_IT_SERVER_NAME: synapse.serverName,
    MATRIX_IT_MAIL_DIR: mail.dir,
    MATRIX_IT_SHARED_SECRET: synapse.registrationSharedSecret,
    MATRIX_IT_DATA_DIR: dataDir,
  });
  debug(`[integration] ${startLine}; started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
