import nock from 'nock';
import { AbortError, ConnectionError, MatrixError, MatrixSession, TimeoutError, type SessionOptions } from '../../lib';
import type { RequestOptions, RequestSpec } from '../../lib/core/request';
import {
  backoffDelay,
  clampDelay,
  DEFAULT_RETRY,
  MAX_TIMER_MS,
  NEVER_SENT_CODES,
  rateLimitDelay,
  sleep,
  TRANSIENT_STATUS,
} from '../../lib/core/retry';
import { failTransport, rejection, useTransportFaults } from '../helpers/transport-faults';

const BASE = 'http://hs.test';
const P = '/_matrix/client/v3/thing';
const LIMITED = { errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests' };

class TestSession extends MatrixSession {
  call<T = Record<string, unknown>>(spec: Partial<RequestSpec> = {}, options?: RequestOptions): Promise<T> {
    return this.core.request<T>({ method: 'GET', path: P, ...spec }, options);
  }
}

type RateLimited = { method: string; path: string; delayMs: number; attempt: number };

function session(options: Partial<SessionOptions> = {}): { s: TestSession; limited: RateLimited[]; sent: string[] } {
  const sent: string[] = [];
  const s = new TestSession({
    baseUrl: BASE,
    accessToken: 'tok',
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    logger: (l) => l.startsWith('->') && sent.push(l),
    ...options,
  });
  const limited: RateLimited[] = [];
  s.on('rateLimited', (info) => limited.push(info));
  return { s, limited, sent };
}

useTransportFaults();

// Every timer the core starts in this file: none may exceed what setTimeout can hold (Node
// would run it after 1 ms). The spy only watches; the real setTimeout still runs.
const timers: number[] = [];
beforeEach(() => {
  const real = global.setTimeout;
  jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    timers.push(ms ?? 0);
    return real(fn, ms);
  }) as typeof setTimeout);
});
afterEach(() => {
  (global.setTimeout as unknown as jest.SpyInstance).mockRestore();
  expect(timers.splice(0).filter((ms) => !(ms >= 0 && ms <= MAX_TIMER_MS))).toEqual([]);
});

describe('policy functions', () => {
  it('defaults: 3 retries, 60 s rate-limit cap, 500 ms backoff base, 8 s backoff ceiling', () => {
    expect(DEFAULT_RETRY).toEqual({ maxRetries: 3, maxRateLimitWaitMs: 60_000, backoffBaseMs: 500, backoffMaxMs: 8_000 });
    expect([...TRANSIENT_STATUS].sort()).toEqual([502, 503, 504]);
    expect(NEVER_SENT_CODES.has('ECONNREFUSED')).toBe(true);
    expect(NEVER_SENT_CODES.has('ECONNRESET')).toBe(false);
  });

  it('backoffDelay doubles per attempt within [ceiling/2, ceiling] and is capped', () => {
    const s = { ...DEFAULT_RETRY, backoffBaseMs: 100, backoffMaxMs: 1000 };
    for (let i = 0; i < 200; i++) {
      for (const [attempt, ceiling] of [[0, 100], [1, 200], [2, 400], [3, 800], [4, 1000], [10, 1000]]) {
        const d = backoffDelay(attempt, s);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('rateLimitDelay: Retry-After seconds first', () => {
    expect(rateLimitDelay('3', { retry_after_ms: 99 })).toBe(3000);
    expect(rateLimitDelay('0', {})).toBe(0);
    expect(rateLimitDelay(' 2 ', {})).toBe(2000);
  });

  it('rateLimitDelay: Retry-After as an HTTP date', () => {
    const inTen = new Date(Date.now() + 10_000).toUTCString(); // second granularity: 9–10 s from now
    const d = rateLimitDelay(inTen, {})!;
    expect(d).toBeGreaterThan(8_000);
    expect(d).toBeLessThanOrEqual(10_000);
    expect(rateLimitDelay(new Date(Date.now() - 60_000).toUTCString(), {})).toBe(0);
  });

  it('rateLimitDelay: retry_after_ms when there is no usable header', () => {
    expect(rateLimitDelay(undefined, { retry_after_ms: 1500 })).toBe(1500);
    expect(rateLimitDelay('', { retry_after_ms: 1500 })).toBe(1500);
    expect(rateLimitDelay('soon', { retry_after_ms: 1500 })).toBe(1500);
    expect(rateLimitDelay('-5', { retry_after_ms: 7 })).toBe(7); // not the year -5
    expect(rateLimitDelay('12 34', { retry_after_ms: 7 })).toBe(7);
    expect(rateLimitDelay('Infinity', { retry_after_ms: 7 })).toBe(7);
    expect(rateLimitDelay('Mon, nonsense', { retry_after_ms: 7 })).toBe(7);
  });

  it('rateLimitDelay: a delay too large for a number is "longer than any cap", never Infinity or 0', () => {
    expect(rateLimitDelay('9'.repeat(400), {})).toBe(Number.MAX_SAFE_INTEGER);
    expect(rateLimitDelay(undefined, { retry_after_ms: Infinity })).toBe(Number.MAX_SAFE_INTEGER); // JSON 1e400
    expect(rateLimitDelay('3000000', {})).toBe(3_000_000_000);
    expect(rateLimitDelay(undefined, { retry_after_ms: 1e12 })).toBe(1e12);
    expect(rateLimitDelay(undefined, { retry_after_ms: 1e300 })).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('clampDelay: what a timer can take, NaN and Infinity as long as allowed', () => {
    expect(clampDelay(1e12)).toBe(MAX_TIMER_MS);
    expect(clampDelay(Infinity)).toBe(MAX_TIMER_MS);
    expect(clampDelay(NaN)).toBe(MAX_TIMER_MS);
    expect(clampDelay(-5)).toBe(0);
    expect(clampDelay(12.6)).toBe(13);
    expect(clampDelay(1e12, 5000)).toBe(5000);
    expect(clampDelay(NaN, 5000)).toBe(5000);
    expect(clampDelay(100, 1e15)).toBe(100);
    expect(clampDelay(1e15, 1e15)).toBe(MAX_TIMER_MS);
  });

  it('sleep: never hands setTimeout more than 2^31-1, resolves at once when aborted (before or during)', async () => {
    const c = new AbortController();
    const long = sleep(1e12, c.signal);
    expect(timers.at(-1)).toBe(MAX_TIMER_MS);
    c.abort();
    await expect(long).resolves.toBeUndefined();
    await expect(sleep(1e12, c.signal)).resolves.toBeUndefined();
    await expect(sleep(1)).resolves.toBeUndefined();
  });

  it('rateLimitDelay: undefined when neither says anything usable', () => {
    expect(rateLimitDelay(undefined, {})).toBeUndefined();
    expect(rateLimitDelay(undefined, { retry_after_ms: '100' })).toBeUndefined();
    expect(rateLimitDelay(undefined, { retry_after_ms: -1 })).toBeUndefined();
  });
});

describe('429 handling', () => {
  it('waits Retry-After (seconds), emits rateLimited with the delay, then succeeds', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '0.02' }).get(P).reply(200, { ok: true });
    const { s, limited, sent } = session();
    await expect(s.call()).resolves.toEqual({ ok: true });
    expect(limited).toEqual([{ method: 'GET', path: P, delayMs: 20, attempt: 1 }]);
    expect(sent).toHaveLength(2);
  });

  it('uses retry_after_ms from the body when there is no Retry-After header', async () => {
    nock(BASE).get(P).reply(429, { ...LIMITED, retry_after_ms: 15 }).get(P).reply(200, {});
    const { s, limited } = session();
    await s.call();
    expect(limited.map((l) => l.delayMs)).toEqual([15]);
  });

  it('prefers Retry-After to retry_after_ms', async () => {
    nock(BASE).get(P).reply(429, { ...LIMITED, retry_after_ms: 50_000 }, { 'Retry-After': '0' }).get(P).reply(200, {});
    const { s, limited } = session();
    await s.call();
    expect(limited.map((l) => l.delayMs)).toEqual([0]);
  });

  it('honours an HTTP-date Retry-After (a date in the past means now)', async () => {
    const past = new Date(Date.now() - 5000).toUTCString();
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': past }).get(P).reply(200, {});
    const { s, limited } = session();
    await s.call();
    expect(limited.map((l) => l.delayMs)).toEqual([0]);
  });

  it('a delay above maxRateLimitWaitMs throws the MatrixError at once, without sleeping or emitting', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '30' });
    const { s, limited, sent } = session({ maxRateLimitWaitMs: 1000 });
    const started = Date.now();
    const e = (await rejection(s.call())) as MatrixError;
    // 30 s asked, 1 s allowed: had it slept, this would take 30 s.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e).toBeInstanceOf(MatrixError);
    expect(e).toMatchObject({ httpStatus: 429, errcode: 'M_LIMIT_EXCEEDED', retryAfterMs: 30_000 });
    expect(limited).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('an HTTP-date beyond the cap throws too', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': new Date(Date.now() + 120_000).toUTCString() });
    const { s } = session();
    const e = (await rejection(s.call())) as MatrixError;
    expect(e.retryAfterMs).toBeGreaterThan(60_000);
  });

  it.each([
    ['retry_after_ms: 1e12', {}, '{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1e12}', 1e12],
    ['retry_after_ms: 1e400 (Infinity once parsed)', {}, '{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1e400}', Number.MAX_SAFE_INTEGER],
    ['Retry-After: 3000000', { 'Retry-After': '3000000' }, '{"errcode":"M_LIMIT_EXCEEDED"}', 3_000_000_000],
    ['Retry-After: 400 digits', { 'Retry-After': '9'.repeat(400) }, '{"errcode":"M_LIMIT_EXCEEDED"}', Number.MAX_SAFE_INTEGER],
  ])('a 429 with %s is longer than maxRateLimitWaitMs: thrown at once, never slept as 1 ms', async (_what, headers, body, asked) => {
    nock(BASE).get(P).reply(429, body, { 'Content-Type': 'application/json', ...headers });
    const { s, limited, sent } = session({ maxRateLimitWaitMs: MAX_TIMER_MS });
    const e = (await rejection(s.call())) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 429, retryAfterMs: asked });
    expect(limited).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('without any delay from the server, backs off with the jittered backoff', async () => {
    nock(BASE).get(P).reply(429, LIMITED).get(P).reply(200, {});
    const { s, limited } = session({ backoffBaseMs: 10, backoffMaxMs: 10 });
    await s.call();
    expect(limited).toHaveLength(1);
    expect(limited[0].delayMs).toBeGreaterThanOrEqual(5);
    expect(limited[0].delayMs).toBeLessThanOrEqual(10);
  });

  it('stops after the session maxRetries and throws the last 429', async () => {
    nock(BASE).get(P).times(3).reply(429, LIMITED, { 'Retry-After': '0' });
    const { s, limited, sent } = session({ maxRetries: 2 });
    const e = (await rejection(s.call())) as MatrixError;
    expect(e.httpStatus).toBe(429);
    expect(sent).toHaveLength(3);
    expect(limited.map((l) => l.attempt)).toEqual([1, 2]);
  });

  it('a per-request maxRetries overrides the session', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '0' });
    const { s, sent } = session({ maxRetries: 5 });
    expect(await rejection(s.call({}, { maxRetries: 0 }))).toMatchObject({ httpStatus: 429 });
    expect(sent).toHaveLength(1);

    nock(BASE).get(P).times(4).reply(429, LIMITED, { 'Retry-After': '0' }).get(P).reply(200, {});
    const other = session({ maxRetries: 0 });
    await expect(other.s.call({}, { maxRetries: 4 })).resolves.toEqual({});
    expect(other.sent).toHaveLength(5);
  });

  it('retries even an unsafe POST (a 429 means the server did not act on it)', async () => {
    nock(BASE).post(P, { a: 1 }).reply(429, LIMITED, { 'Retry-After': '0' }).post(P, { a: 1 }).reply(200, { room_id: '!r:hs' });
    const { s } = session();
    await expect(s.call({ method: 'POST', body: { a: 1 } })).resolves.toEqual({ room_id: '!r:hs' });
  });

  it('an abort during the wait ends it at once with AbortError, and nothing more is sent', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '20' });
    const { s, limited, sent } = session();
    const c = new AbortController();
    const started = Date.now();
    const p = s.call({}, { signal: c.signal });
    s.once('rateLimited', () => setTimeout(() => c.abort(), 5));
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(limited).toHaveLength(1);
    expect(sent).toHaveLength(1);
  });

  it('closing the session during the wait ends it with AbortError', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '20' });
    const { s } = session();
    const p = s.call();
    s.once('rateLimited', () => void s.close());
    expect(await rejection(p)).toBeInstanceOf(AbortError);
  });

  it('a rateLimited listener that throws does not break the request', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '0' }).get(P).reply(200, { ok: 1 });
    const { s } = session();
    const listenerErrors: unknown[] = [];
    s.on('listenerError', (info) => listenerErrors.push(info.error));
    s.on('rateLimited', () => {
      throw new Error('listener bug');
    });
    await expect(s.call()).resolves.toEqual({ ok: 1 });
    expect(listenerErrors).toHaveLength(1);
  });
});

describe('503 with Retry-After', () => {
  const UNAVAILABLE = { errcode: 'M_UNKNOWN', error: 'Service unavailable' };

  it('a safe request waits the delay the server asked for (not the backoff), then succeeds', async () => {
    nock(BASE).get(P).reply(503, UNAVAILABLE, { 'Retry-After': '0.05' }).get(P).reply(200, { ok: true });
    const { s, limited, sent } = session({ backoffBaseMs: 1, backoffMaxMs: 1 });
    await expect(s.call()).resolves.toEqual({ ok: true });
    expect(sent).toHaveLength(2);
    expect(timers).toContain(50); // the wait was the server's 50 ms; the backoff would have been 1 ms
    expect(limited).toEqual([]); // rateLimited is for 429s
  });

  it('retry_after_ms in the body counts too, and both are parsed onto the MatrixError', async () => {
    nock(BASE).get(P).reply(503, { ...UNAVAILABLE, retry_after_ms: 1234 });
    const e = (await rejection(session().s.call({}, { maxRetries: 0 }))) as MatrixError;
    expect(e).toMatchObject({ httpStatus: 503, retryAfterMs: 1234 });
    nock(BASE).get(P).reply(503, UNAVAILABLE, { 'Retry-After': '7' });
    expect(await rejection(session().s.call({}, { maxRetries: 0 }))).toMatchObject({ httpStatus: 503, retryAfterMs: 7000 });
    nock(BASE).get(P).reply(502, { ...UNAVAILABLE, retry_after_ms: 5 });
    expect(await rejection(session().s.call({}, { maxRetries: 0 }))).toMatchObject({ httpStatus: 502, retryAfterMs: undefined });
  });

  it.each([
    ['Retry-After: 3000000', { 'Retry-After': '3000000' }, UNAVAILABLE],
    ['Retry-After above the cap', { 'Retry-After': '120' }, UNAVAILABLE],
    ['retry_after_ms: 1e12', {}, { ...UNAVAILABLE, retry_after_ms: 1e12 }],
  ])('%s: longer than maxRateLimitWaitMs, thrown at once without a retry', async (_what, headers, body) => {
    nock(BASE).get(P).reply(503, body, headers);
    const { s, sent } = session();
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 503 });
    expect(sent).toHaveLength(1);
  });

  it('an unsafe request is still not repeated, whatever the server asks', async () => {
    nock(BASE).post(P).reply(503, UNAVAILABLE, { 'Retry-After': '0' });
    const { s, sent } = session();
    expect(await rejection(s.call({ method: 'POST', body: {} }))).toMatchObject({ httpStatus: 503, retryAfterMs: 0 });
    expect(sent).toHaveLength(1);
  });

  it('shares the maxRetries budget', async () => {
    nock(BASE).get(P).times(3).reply(503, UNAVAILABLE, { 'Retry-After': '0' });
    const { s, sent } = session({ maxRetries: 2 });
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 503 });
    expect(sent).toHaveLength(3);
  });
});

describe('transient failures', () => {
  it.each([502, 503, 504])('a GET is retried after %i', async (status) => {
    nock(BASE).get(P).reply(status, '<html>bad gateway</html>').get(P).reply(200, { ok: true });
    const { s, sent } = session();
    await expect(s.call()).resolves.toEqual({ ok: true });
    expect(sent).toEqual([`-> GET ${P}`, `-> GET ${P} (retry 1)`]);
  });

  it('a GET is not retried after a 500 or a 4xx', async () => {
    nock(BASE).get(P).reply(500, { errcode: 'M_UNKNOWN', error: 'Internal server error' });
    const { s, sent } = session();
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 500 });
    nock(BASE).get(P).reply(404, { errcode: 'M_NOT_FOUND' });
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 404 });
    expect(sent).toHaveLength(2);
  });

  it('a GET is retried after ECONNRESET', async () => {
    failTransport('GET', P, 'ECONNRESET');
    nock(BASE).get(P).reply(200, { ok: true });
    const { s, sent } = session();
    await expect(s.call()).resolves.toEqual({ ok: true });
    expect(sent).toHaveLength(2);
  });

  it('gives up after maxRetries and throws the last failure', async () => {
    nock(BASE).get(P).times(4).reply(503, { errcode: 'M_UNKNOWN', error: 'down' });
    const { s, sent } = session();
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 503 });
    expect(sent).toHaveLength(4); // 1 + DEFAULT maxRetries (3)
  });

  it('an unsafe POST is NOT retried after a 502 (it may have been acted on)', async () => {
    nock(BASE).post(P).reply(502, 'bad gateway');
    const { s, sent } = session();
    expect(await rejection(s.call({ method: 'POST', body: {} }))).toMatchObject({ httpStatus: 502, errcode: 'M_UNKNOWN' });
    expect(sent).toHaveLength(1);
  });

  it.each(['ECONNRESET', 'EPIPE', 'ETIMEDOUT'])('an unsafe POST is NOT retried after %s (it may have reached the server)', async (code) => {
    failTransport('POST', P, code);
    const { s, sent } = session();
    const e = (await rejection(s.call({ method: 'POST', body: {} }))) as ConnectionError;
    expect(e).toMatchObject({ code, mayHaveReachedServer: true });
    expect(sent).toHaveLength(1);
  });

  it.each([...NEVER_SENT_CODES])('an unsafe POST IS retried after %s (it never left)', async (code) => {
    failTransport('POST', P, code);
    nock(BASE).post(P).reply(200, { room_id: '!r:hs' });
    const { s, sent } = session();
    await expect(s.call({ method: 'POST', body: {} })).resolves.toEqual({ room_id: '!r:hs' });
    expect(sent).toHaveLength(2);
  });

  it('a PUT declared safe (a transaction ID) is retried after ECONNRESET and 503, with the same path and body', async () => {
    const put = `/_matrix/client/v3/rooms/!r%3Ahs/send/m.room.message/txn1`;
    failTransport('PUT', put, 'ECONNRESET');
    nock(BASE).put(put, { body: 'hi' }).reply(503, 'busy').put(put, { body: 'hi' }).reply(200, { event_id: '$e' });
    const { s } = session();
    await expect(s.call({ method: 'PUT', path: put, body: { body: 'hi' }, idempotency: 'safe' })).resolves.toEqual({ event_id: '$e' });
  });

  it('a PUT without an idempotency declaration counts as unsafe', async () => {
    nock(BASE).put(P).reply(503, 'busy');
    const { s, sent } = session();
    expect(await rejection(s.call({ method: 'PUT', body: {} }))).toMatchObject({ httpStatus: 503 });
    expect(sent).toHaveLength(1);
  });

  it('a POST declared safe (a read-only search) is retried after a 503', async () => {
    nock(BASE).post(P).reply(503, 'busy').post(P).reply(200, { results: [] });
    const { s } = session();
    await expect(s.call({ method: 'POST', body: { search_term: 'x' }, idempotency: 'safe' })).resolves.toEqual({ results: [] });
  });

  it('a timed-out GET is retried within maxRetries, each attempt with its own timeoutMs', async () => {
    nock(BASE).get(P).times(2).delay(300).reply(200, {}).get(P).reply(200, { ok: true });
    const { s, sent } = session();
    await expect(s.call({}, { timeoutMs: 20 })).resolves.toEqual({ ok: true });
    expect(sent).toEqual([`-> GET ${P}`, `-> GET ${P} (retry 1)`, `-> GET ${P} (retry 2)`]);
    nock.abortPendingRequests();
  });

  it('a timed-out GET beyond maxRetries throws the TimeoutError', async () => {
    nock(BASE).get(P).times(3).delay(300).reply(200, {});
    const { s, sent } = session();
    const e = await rejection(s.call({}, { timeoutMs: 10, maxRetries: 2 }));
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e).toMatchObject({ timeoutMs: 10 });
    expect(sent).toHaveLength(3);
    nock.abortPendingRequests();
  });

  it('a timed-out PUT with a transaction ID is retried with the same path and body; the first reply lost does not matter', async () => {
    const put = `/_matrix/client/v3/rooms/!r%3Ahs/send/m.room.message/txn9`;
    nock(BASE).put(put, { body: 'hi' }).delay(300).reply(200, { event_id: '$e' }).put(put, { body: 'hi' }).reply(200, { event_id: '$e' });
    const { s, sent } = session();
    await expect(s.call({ method: 'PUT', path: put, body: { body: 'hi' }, idempotency: 'safe' }, { timeoutMs: 20 })).resolves.toEqual({ event_id: '$e' });
    expect(sent).toHaveLength(2);
    nock.abortPendingRequests();
  });

  it('a timed-out unsafe POST is NOT retried (it may have been acted on)', async () => {
    nock(BASE).post(P).delay(300).reply(200, {});
    const { s, sent } = session();
    expect(await rejection(s.call({ method: 'POST', body: {} }, { timeoutMs: 10 }))).toBeInstanceOf(TimeoutError);
    expect(sent).toHaveLength(1);
    nock.abortPendingRequests();
  });

  it('an abort during the backoff ends it with AbortError', async () => {
    nock(BASE).get(P).reply(503, 'busy');
    const { s } = session({ backoffBaseMs: 20_000, backoffMaxMs: 20_000 });
    const c = new AbortController();
    const p = s.call({}, { signal: c.signal });
    setTimeout(() => c.abort(), 30);
    expect(await rejection(p)).toBeInstanceOf(AbortError);
  });

  it('429 and transient retries share one budget', async () => {
    nock(BASE).get(P).reply(429, LIMITED, { 'Retry-After': '0' }).get(P).reply(503, 'x').get(P).reply(429, LIMITED, { 'Retry-After': '0' });
    const { s, sent } = session({ maxRetries: 2 });
    expect(await rejection(s.call())).toMatchObject({ httpStatus: 429 });
    expect(sent).toHaveLength(3);
  });
});
