// Shared fixtures for the unit specs: one fake homeserver stubbed with nock, one logged-in
// user, and the checks those files share (nothing sent that was not stubbed, every stub used,
// bad input refused with a ValidationError before any request).
import nock from 'nock';
import { MatrixSession, ValidationError, type SessionEvents, type SessionOptions } from '../../lib';

export const BASE = 'https://hs.example.org';
// Distinctive, so a "the token does not leak" test can search for it as a plain substring.
export const TOKEN = 'secret-token-1234567890';
export const ME = '@alice:example.org';
/** ME as one path segment, spelled out rather than computed the way the library does it. */
export const ME_PATH = '%40alice%3Aexample.org';

/** nock options: the request must carry this bearer token. */
export const authAs = (token: string): nock.Options => ({ reqheaders: { authorization: `Bearer ${token}` } });
export const AUTH = authAs(TOKEN);
/** nock options: the request must carry no Authorization header at all. */
export const NO_AUTH: nock.Options = { badheaders: ['authorization'] };

/** A request body for nock, as it goes on the wire (undefined fields dropped). */
export const json = (value: object): nock.DataMatcherMap => JSON.parse(JSON.stringify(value)) as nock.DataMatcherMap;

/**
 * A session against BASE; `loggedIn` gives it TOKEN, ME and device DEV. No retries by default,
 * so a failing test leaves no request in flight, and a tiny backoff for the tests that ask for
 * retries in `options` (which override anything here, `undefined` included).
 */
export function session(loggedIn = true, options: Partial<SessionOptions> = {}): MatrixSession {
  return new MatrixSession({
    baseUrl: BASE,
    maxRetries: 0,
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    ...(loggedIn ? { accessToken: TOKEN, userId: ME, deviceId: 'DEV' } : {}),
    ...options,
  });
}

/** Records every emission of the auth events, so a test can assert "exactly once, with this payload". */
export function record(s: MatrixSession): Array<[keyof SessionEvents, unknown]> {
  const seen: Array<[keyof SessionEvents, unknown]> = [];
  for (const name of ['login', 'register', 'logout', 'tokenChanged', 'sessionExpired', 'rateLimited', 'listenerError'] as const) {
    s.on(name, (info: unknown) => void seen.push([name, info]));
  }
  return seen;
}

// Every request that reached nock without an interceptor since the last check. A blocked
// request may surface only as a rejection the code under test swallows or retries, so it is
// counted here rather than trusted to fail the test on its own.
const stray: string[] = [];
const onNoMatch = (req: { method?: string; host?: string; path?: string }): void => void stray.push(`${req.method} ${req.host ?? ''}${req.path}`);

/**
 * Call once at the top of a spec file: no real connections, and after each test no stub left
 * unused and no request left unstubbed. `allowPending` is for files whose stubs offer replies a
 * test may rightly leave unused (a call refused before it sends, a retry that must not happen).
 * spec/setup-unit.ts unhooks nock itself after the file.
 */
export function guardNock({ allowPending = false }: { allowPending?: boolean } = {}): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.emitter.on('no match', onNoMatch);
  });
  afterAll(() => {
    nock.emitter.removeListener('no match', onNoMatch);
    nock.enableNetConnect();
  });
  afterEach(() => {
    // Collect and reset both before asserting, so one failing test does not fail the next.
    const pending = allowPending ? [] : nock.pendingMocks();
    const unmatched = stray.splice(0);
    nock.cleanAll();
    expect({ pending, stray: unmatched }).toEqual({ pending: [], stray: [] });
  });
}

/** What `p` rejects with; a test fails if it resolves instead. */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

/**
 * The call rejects (rather than throws synchronously) with a ValidationError naming
 * `parameter`, and no request went out unstubbed meanwhile.
 */
export async function expectInvalid(call: () => Promise<unknown>, parameter: string): Promise<ValidationError> {
  const error = await failure(call());
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).parameter).toBe(parameter);
  expect(stray).toEqual([]);
  return error as ValidationError;
}

/**
 * The synchronous counterpart, for builders and constructors: throws a ValidationError naming
 * `parameter`. Returns nothing, so it can be a test body on its own (jest 30 fails a test that returns a value).
 */
export function expectThrowsInvalid(build: () => unknown, parameter: string): void {
  let error: unknown;
  try {
    build();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).parameter).toBe(parameter);
}

/** One request as `serve` saw it. */
export interface Served {
  url: string;
  auth?: string;
  body?: unknown;
}

/** Answers the next `replies.length` requests of `method` to BASE in turn, whatever their path, recording what was sent. */
export function serve(method: string, ...replies: Array<[number, unknown]>): Served[] {
  const seen: Served[] = [];
  for (const [status, response] of replies) {
    nock(BASE)
      .intercept(() => true, method)
      .reply(function (uri, body) {
        seen.push({ url: uri, auth: this.req.headers.authorization as string | undefined, body: body === '' ? undefined : body });
        return [status, response as nock.Body];
      });
  }
  return seen;
}

/**
 * The room is not encrypted: stubs the one GET /rooms/{roomId}/state/m.room.encryption that
 * `rooms.sendEvent` makes for a room it has not seen yet (404, as Synapse answers).
 */
export function notEncrypted(roomId: string, base = BASE): nock.Scope {
  return nock(base)
    .get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.encryption/`)
    .reply(404, { errcode: 'M_NOT_FOUND', error: 'Event not found.' });
}
