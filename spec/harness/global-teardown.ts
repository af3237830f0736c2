// jest globalTeardown: stops what global-setup started (nothing when MATRIX_IT_BASE_URL was given).
import { rmSync } from 'node:fs';
import { STATE_KEY, type HarnessState } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>)[STATE_KEY] as HarnessState | undefined;
  if (!state) return;
  delete (globalThis as Record<string, unknown>)[STATE_KEY];
  await Promise.all([state.synapse.stop(), state.mail.close()]);
  // The data dir is usually on /dev/shm (RAM); keep it only when asked, for post-mortems.
  if (process.env.MATRIX_IT_KEEP_DATA) process.stderr.write(`[integration] data kept in ${state.synapse.dataDir}\n`);
  else rmSync(state.synapse.dataDir, { recursive: true, force: true });
}
