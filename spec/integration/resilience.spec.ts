// The request core against a real Synapse, through a proxy that resets, delays, 502s and
// blackholes requests: no message lost or duplicated, rate limits waited out, tokens
// refreshed under load, timeouts and aborts on time, and no token anywhere it should not be.
import { inspect } from 'node:util';
import { AbortError, MatrixError, MatrixSession, TimeoutError, type SessionOptions } from '../../lib';
import { overrideRatelimit, registerWithSharedSecret } from '../harness/admin';
import { debug } from '../harness/debug';
import { itEnv, uniqueName } from '../harness/env';
import { startFaultProxy, type FaultProxy, type FaultSettings } from '../harness/fault-proxy';
import { PASSWORD } from './helpers';

const env = itEnv();
// Several tests here run for seconds by design (300 sends, 16 s of refreshes).
jest.setTimeout(60_000);

// ---- Everything this spec produces that could carry a token, for the final scan ----------
/** Texts that must hold no token: log lines, errors, event payloads other than those below. */
const scanned: Array<{ where: string; text: string }> = [];
/** Every token seen, from the only payloads allowed to carry them: tokenChanged, login, register. */
const tokens = new Set<string>();
const sessions: MatrixSession[] = [];
const proxies: FaultProxy[] = [];

interface Tracked {
  session: MatrixSession;
  logs: string[];
  events: Record<string, unknown[]>;
}

function keepTokens(info: { accessToken?: string; refreshToken?: string }): void {
  if (info.accessToken) tokens.add(info.accessToken);
  if (info.refreshToken) tokens.add(info.refreshToken);
}

function scan(where: string, value: unknown): void {
  if (value instanceof Error) {
    scanned.push({ where: `${where} message`, text: value.message });
    scanned.push({ where: `${where} JSON`, text: JSON.stringify(value) });
    scanned.push({ where: `${where} inspect`, text: inspect(value, { depth: 10, showHidden: true }) });
    return;
  }
  scanned.push({ where, text: `${inspect(value, { depth: 10 })}\n${JSON.stringify(value)}` });
}

/** A session whose log lines, events and errors all go to the scan. */
function tracked(options: Partial<SessionOptions> = {}): Tracked {
  const logs: string[] = [];
  const session = new MatrixSession({
    baseUrl: env.baseUrl,
    logger: (line) => {
      logs.push(line);
      scanned.push({ where: 'log line', text: line });
    },
    ...options,
  });
  sessions.push(session);
  if (options.accessToken) tokens.add(options.accessToken);
  const events: Record<string, unknown[]> = {};
  const record = (name: string, allowedToCarryTokens: boolean) =>
    session.on(name as 'rateLimited', (info: unknown) => {
      (events[name] ??= []).push(info);
      if (allowedToCarryTokens) keepTokens(info as { accessToken?: string });
      else scan(`${name} payload`, info);
    });
  for (const name of ['tokenChanged', 'login', 'register']) record(name, true);
  for (const name of ['rateLimited', 'sessionExpired', 'logout', 'listenerError']) record(name, false);
  return { session, logs, events };
}

async function registered(prefix: string, options: Partial<SessionOptions> = {}, refreshToken = false): Promise<Tracked> {
  const t = tracked(options);
  await t.session.account.register({ username: uniqueName(prefix), password: PASSWORD, refreshToken });
  return t;
}

/** Runs `fn` and records its error for the scan (then rethrows it). */
async function traced<T>(where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    scan(where, error);
    throw error;
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}

/** Every m.room.message body the user sent in the room, read back page by page (newest first). */
async function readBodies(reader: MatrixSession, roomId: string, sender: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let from: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await reader.rooms.messages(roomId, { dir: 'b', limit: 100, from, filter: { types: ['m.room.message'] } });
    for (const ev of res.chunk) {
      if (ev.sender !== sender) continue;
      const body = (ev.content as { body?: unknown }).body;
      if (typeof body === 'string') counts.set(body, (counts.get(body) ?? 0) + 1);
    }
    if (!res.end || res.chunk.length === 0) return counts;
    from = res.end;
  }
  throw new Error('more than 100 pages: runaway pagination');
}

/** Runs `jobs` with at most `width` in flight; returns each job's outcome. */
async function pool<T>(count: number, width: number, job: (i: number) => Promise<T>): Promise<Array<{ ok: true; value: T } | { ok: false; error: unknown }>> {
  const out: Array<{ ok: true; value: T } | { ok: false; error: unknown }> = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        try {
          out[i] = { ok: true, value: await job(i) };
        } catch (error) {
          out[i] = { ok: false, error };
        }
      }
    }),
  );
  return out;
}

/** What `sendThroughFaults` measured. */
interface FaultRun {
  count: number;
  proxy: FaultProxy;
  logs: string[];
  failures: unknown[];
  counts: Map<string, number>;
  expected: Set<string>;
  eventIds: Set<string>;
  retries: number;
}

/**
 * Sends `count` messages, 8 at a time, through a fault proxy in front of Synapse, with the
 * token of a directly registered user (the same device: Synapse de-duplicates by device and
 * txnId), then reads the room back directly. At most 2 faults per request, below the default
 * maxRetries (3): whether a message lands depends on the SDK, not on the dice.
 */
async function sendThroughFaults(label: string, count: number, faults: Partial<FaultSettings>, options: Partial<SessionOptions> = {}): Promise<FaultRun> {
  const direct = await registered(label);
  const sender = direct.session.userId!;
  const { room_id: roomId } = await direct.session.rooms.create({ name: label });
  const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const proxy = await startFaultProxy(env.baseUrl, { seed, maxFaultsPerRequest: 2, ...faults });
  proxies.push(proxy);
  const viaProxy = tracked({
    baseUrl: proxy.url,
    accessToken: direct.session.getAccessToken(),
    userId: sender,
    deviceId: direct.session.deviceId,
    backoffBaseMs: 5,
    backoffMaxMs: 40,
    ...options,
  });
  const tag = uniqueName(label);
  const bodyOf = (i: number) => `${tag} message ${i}`;
  const started = Date.now();
  const outcomes = await pool(count, 8, (i) => traced(`${label} send`, () => viaProxy.session.rooms.sendText(roomId, bodyOf(i))));
  const sendMs = Date.now() - started;
  const run: FaultRun = {
    count,
    proxy,
    logs: viaProxy.logs,
    failures: outcomes.filter((o) => !o.ok),
    counts: await readBodies(direct.session, roomId, sender),
    expected: new Set(Array.from({ length: count }, (_, i) => bodyOf(i))),
    eventIds: new Set(outcomes.flatMap((o) => (o.ok ? [o.value.event_id] : []))),
    retries: viaProxy.logs.filter((l) => l.startsWith('->') && l.includes('(retry ')).length,
  };
  const c = proxy.counters;
  debug(
    `[resilience] ${label}: seed=${seed} sent=${count} landed=${run.counts.size} failed=${run.failures.length} ` +
      `retries=${run.retries} faults=${proxy.faults()} (reset=${c.reset} 502=${c.badGateway} stalled=${c.stalled} ` +
      `truncated=${c.truncated} delayed=${c.delayed} proxied=${c.requests}) in ${sendMs} ms`,
  );
  return run;
}

/** Every message landed exactly once, none was rejected, and each fault cost exactly one retry. */
function expectEachLandedOnce(run: FaultRun): void {
  expect(run.failures).toEqual([]);
  expect([...run.expected].filter((b) => !run.counts.has(b))).toEqual([]); // lost
  expect([...run.counts.values()].reduce((n, c) => n + c - 1, 0)).toBe(0); // duplicated
  expect([...run.counts.keys()].filter((b) => !run.expected.has(b))).toEqual([]); // strangers
  expect(run.counts.size).toBe(run.count);
  // A lost reply was retried with the same txnId, so Synapse answered with the same event ID.
  expect(run.eventIds.size).toBe(run.count);
  // Nothing else was repeated.
  expect(run.retries).toBe(run.proxy.faults());
  // One lookup of the room's encryption state, shared by the first concurrent sends, then the sends.
  const lookups = run.logs.filter((l) => l.startsWith('->') && l.includes('/state/m.room.encryption') && !l.includes('(retry ')).length;
  expect(lookups).toBe(1);
  expect(run.proxy.counters.requests).toBe(run.count + lookups + run.retries);
}

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(proxies.map((p) => p.close()));
});

describe('resilience against a real Synapse', () => {
  it('300 messages, 8 at a time, through resets, 502s and delays: zero lost, zero duplicated', async () => {
    const run = await sendThroughFaults('faults', 300, {
      resetRate: 0.12, // forwarded, acted on by Synapse, then the connection is reset: the reply is lost
      badGatewayRate: 0.1,
      delayRate: 0.1,
      delayMs: 40,
    });
    expectEachLandedOnce(run);
    expect(run.proxy.counters.reset).toBeGreaterThan(0);
    expect(run.proxy.counters.badGateway).toBeGreaterThan(0);
  });

  it('100 messages through stalled replies (longer than the timeout) and truncated replies: each lands once, none rejected', async () => {
    const run = await sendThroughFaults(
      'stalls',
      100,
      {
        stallRate: 0.08, // forwarded and acted on; the reply never comes: the client's timeout ends it
        truncateRate: 0.12, // forwarded and acted on; the reply is cut in half
      },
      { timeoutMs: 5_000 }, // far above what a send takes, so only a stalled reply times out
    );
    expectEachLandedOnce(run);
    expect(run.proxy.counters.stalled).toBeGreaterThan(0);
    expect(run.proxy.counters.truncated).toBeGreaterThan(0);
    // Each fault was seen by the client as what it was.
    expect(run.logs.filter((l) => l.startsWith('<- TimeoutError'))).toHaveLength(run.proxy.counters.stalled);
    expect(run.logs.filter((l) => l.startsWith('<- ConnectionError'))).toHaveLength(run.proxy.counters.truncated);
  });

  describe('rate limits', () => {
    let adminToken: string;
    beforeAll(async () => {
      const admin = await registerWithSharedSecret(env.baseUrl, env.sharedSecret, {
        username: uniqueName('rladmin'),
        password: PASSWORD,
        admin: true,
      });
      adminToken = admin.access_token;
    });

    it('a burst of 12 against a low limit (2/s, burst 2): every message lands once, after rateLimited waits', async () => {
      // Synapse counts a send when it is about to persist it, one event at a time per room. A
      // limit the server's own pace can outrun (50/s before) was never reached on a loaded
      // machine; 2/s is reached unless each event takes over 500 ms: any burst above 2 hits it.
      const COUNT = 12;
      // Enough retries to outlast the limiter: 12 at once at 2 a second take about 6 rounds.
      const t = await registered('burst', { maxRetries: 50 });
      const s = t.session;
      // The room first: createRoom counts against the same per-user limiter.
      const { room_id: roomId } = await s.rooms.create({});
      await overrideRatelimit(env.baseUrl, adminToken, s.userId!, { messagesPerSecond: 2, burstCount: 2 });
      const run = uniqueName('burst');
      const outcomes = await Promise.allSettled(
        Array.from({ length: COUNT }, (_, i) => traced('burst send', () => s.rooms.sendText(roomId, `${run} ${i}`))),
      );
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      const counts = await readBodies(s, roomId, s.userId!);
      const mine = [...counts.entries()].filter(([b]) => b.startsWith(run));
      expect(mine).toHaveLength(COUNT);
      expect(mine.every(([, n]) => n === 1)).toBe(true);

      const limited = (t.events.rateLimited ?? []) as Array<{ method: string; path: string; delayMs: number; attempt: number }>;
      debug(`[resilience] burst of ${COUNT}: ${limited.length} rateLimited waits, longest ${Math.max(0, ...limited.map((l) => l.delayMs))} ms`);
      expect(limited.length).toBeGreaterThan(0);
      for (const l of limited) {
        expect(l.method).toBe('PUT');
        expect(l.path).toContain('/send/m.room.message/');
        // Synapse's Retry-After is whole seconds (rounded up), and 0 when the wait is under 1 ms.
        expect(l.delayMs).toBeGreaterThanOrEqual(0);
        expect(l.delayMs).toBeLessThanOrEqual(60_000);
      }
    });

    it('a server delay above maxRateLimitWaitMs: the typed M_LIMIT_EXCEEDED is thrown, no wait', async () => {
      const t = await registered('capped', { maxRateLimitWaitMs: 100 });
      const s = t.session;
      const { room_id: roomId } = await s.rooms.create({});
      // 1 message a second, burst 1: of two sends in a row at least one is refused for ~1 s,
      // far above the 100 ms this session is willing to wait.
      await overrideRatelimit(env.baseUrl, adminToken, s.userId!, { messagesPerSecond: 1, burstCount: 1 });
      let refused: Error | undefined;
      let elapsed = 0;
      for (let i = 0; i < 2 && !refused; i++) {
        const started = performance.now();
        refused = await s.rooms.sendText(roomId, `capped ${i}`).then(
          () => undefined,
          (e: Error) => (scan('capped send', e), e),
        );
        elapsed = performance.now() - started;
      }
      const e = refused as MatrixError;
      expect(e).toBeInstanceOf(MatrixError);
      expect(e).toMatchObject({ httpStatus: 429, errcode: 'M_LIMIT_EXCEEDED' });
      expect(e.retryAfterMs).toBeGreaterThan(100);
      expect(elapsed).toBeLessThan(e.retryAfterMs!); // thrown at once, not after waiting
      expect(t.events.rateLimited ?? []).toEqual([]);
    });
  });

  it('refresh under load: calls for more than 3 token lifetimes (5 s each), none fails', async () => {
    const t = await registered('refresh', {}, true);
    const s = t.session;
    expect(s.getRefreshToken()).toBeDefined();
    const first = s.getAccessToken();
    const failures: unknown[] = [];
    let calls = 0;
    const changed = (t.events.tokenChanged ??= []);
    // More than three 5 s lifetimes; and on a slow machine, on until the third refresh is seen.
    const until = Date.now() + 16_000;
    const deadline = Date.now() + 40_000;
    while ((Date.now() < until || changed.length < 3) && Date.now() < deadline) {
      // Three at a time, so several requests meet the expiry together.
      const round = await Promise.allSettled([0, 1, 2].map(() => traced('whoami', () => s.account.whoami())));
      calls += round.length;
      for (const r of round) {
        if (r.status === 'rejected') failures.push(r.reason);
        else expect(r.value.user_id).toBe(s.userId);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    const refreshes = t.logs.filter((l) => l === '-> POST /_matrix/client/v3/refresh').length;
    debug(`[resilience] refresh: ${calls} calls over 16 s, ${refreshes} refreshes, ${changed.length} tokenChanged, ${failures.length} failures`);
    expect(failures).toEqual([]);
    expect(changed.length).toBeGreaterThanOrEqual(3);
    expect(refreshes).toBe(changed.length); // one refresh per expiry, never one per waiting request
    expect(t.events.sessionExpired ?? []).toEqual([]);
    expect(s.getAccessToken()).not.toBe(first);
  });

  describe('timeouts and aborts (a proxy that never answers)', () => {
    let blackhole: FaultProxy;
    let token: string;
    let userId: string;
    beforeAll(async () => {
      blackhole = await startFaultProxy(env.baseUrl, { blackhole: true });
      proxies.push(blackhole);
      const t = await registered('hole');
      token = t.session.getAccessToken()!;
      userId = t.session.userId!;
    });

    it('ends with TimeoutError at the configured time, not before it, and well before the default', async () => {
      const { session } = tracked({ baseUrl: blackhole.url, accessToken: token, userId, timeoutMs: 700, maxRetries: 0 });
      const before = blackhole.counters.requests;
      const started = performance.now();
      const e = await rejection(traced('timeout', () => session.account.whoami()));
      const elapsed = performance.now() - started;
      expect(e).toBeInstanceOf(TimeoutError);
      expect((e as TimeoutError).timeoutMs).toBe(700);
      expect(elapsed).toBeGreaterThanOrEqual(700 - 5); // timer granularity
      expect(elapsed).toBeLessThan(15_000); // the default would be 30 s
      expect(blackhole.counters.requests - before).toBe(1); // maxRetries: 0
    });

    it('a timed-out GET (safe) is sent again within maxRetries; a timed-out unsafe POST is not', async () => {
      const { session } = tracked({ baseUrl: blackhole.url, accessToken: token, userId, timeoutMs: 200, maxRetries: 2, backoffBaseMs: 1 });
      const before = blackhole.counters.requests;
      expect(await rejection(traced('timeout retried', () => session.account.whoami()))).toBeInstanceOf(TimeoutError);
      expect(blackhole.counters.requests - before).toBe(3);
      expect(blackhole.seen.slice(-3).map((r) => r.path)).toEqual(Array(3).fill('/_matrix/client/v3/account/whoami'));
      const mid = blackhole.counters.requests;
      expect(await rejection(traced('timeout unsafe', () => session.rooms.create({})))).toBeInstanceOf(TimeoutError);
      expect(blackhole.counters.requests - mid).toBe(1);
    });

    it('an aborted request ends with AbortError and the proxy sees no further request', async () => {
      const { session } = tracked({ baseUrl: blackhole.url, accessToken: token, userId, backoffBaseMs: 1 });
      const before = blackhole.counters.requests;
      const controller = new AbortController();
      const pending = rejection(traced('abort', () => session.account.whoami({ signal: controller.signal })));
      // Abort only once the proxy holds the request.
      while (blackhole.counters.requests === before) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      expect(await pending).toBeInstanceOf(AbortError);
      await new Promise((r) => setTimeout(r, 300)); // a retry (1–2 ms backoff) would have arrived by now
      expect(blackhole.counters.requests - before).toBe(1);
      expect(blackhole.seen.at(-1)).toMatchObject({ method: 'GET', path: '/_matrix/client/v3/account/whoami', fate: 'blackhole' });
    });

    it('session.close() ends every request in flight with AbortError', async () => {
      const { session } = tracked({ baseUrl: blackhole.url, accessToken: token, userId });
      const before = blackhole.counters.requests;
      const pending = [0, 1, 2].map(() => rejection(traced('close', () => session.account.whoami())));
      while (blackhole.counters.requests - before < 3) await new Promise((r) => setTimeout(r, 10));
      await session.close();
      for (const e of await Promise.all(pending)) expect(e).toBeInstanceOf(AbortError);
      expect(await rejection(session.account.whoami())).toBeInstanceOf(AbortError);
    });
  });

  it('no token in any log line, error, event payload or session dump of this spec', () => {
    for (const s of sessions) {
      for (const t of [s.getAccessToken(), s.getRefreshToken()]) if (t) tokens.add(t);
      scanned.push({ where: 'inspect(session)', text: inspect(s, { depth: 10 }) });
      scanned.push({ where: 'JSON.stringify(session)', text: JSON.stringify(s) });
    }
    // The spec did make tokens and produce plenty to scan; otherwise this proves nothing.
    expect(tokens.size).toBeGreaterThanOrEqual(sessions.length);
    expect(scanned.length).toBeGreaterThan(1000);
    const leaks = scanned.filter(({ text }) => [...tokens].some((t) => text.includes(t)) || /Bearer /.test(text));
    expect(leaks.map((l) => `${l.where}: ${l.text.slice(0, 200)}`)).toEqual([]);
  });
});
