// Shared set-up for integration specs: fresh, uniquely named users on the run's Synapse.
import { MatrixError, MatrixSession, type SessionOptions } from '../../lib';
import { itEnv, uniqueName } from '../harness/env';

export const PASSWORD = 'correct-horse-battery-staple';

/** A session on the test server, not logged in. */
export function anonSession(options: Partial<SessionOptions> = {}): MatrixSession {
  return new MatrixSession({ baseUrl: itEnv().baseUrl, ...options });
}

/** A newly registered user, logged in (dummy auth), with a unique name. */
export async function newUser(prefix = 'user', options: Partial<SessionOptions> = {}): Promise<MatrixSession> {
  const session = anonSession(options);
  await session.account.register({ username: uniqueName(prefix), password: PASSWORD });
  return session;
}

/** Polls `fn` until it returns a truthy value: for state Synapse indexes asynchronously. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, { timeoutMs = 10_000, everyMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The MatrixError a call rejects with; fails the test if it resolves or fails otherwise. */
export async function catchError(p: Promise<unknown>): Promise<MatrixError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MatrixError);
  return error as MatrixError;
}
