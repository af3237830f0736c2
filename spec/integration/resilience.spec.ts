// The request core against a real Synapse, through a proxy that resets, delays, 502s and
// blackholes requests: no message lost or duplicated, rate limits waited out, tokens
// refreshed under load, timeouts and aborts on time, and no token anywhere it should not be.
import { inspect } from 'node:util';
import { AbortError, MatrixError, MatrixSession, TimeoutError, type SessionOptions } from '../../lib';
import { overrideRatelimit, registerWithSharedSecret } from '../harness/admin';
import { itEnv, uniqueName } from '../harness/env';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
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

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(proxies.map((p) => p.close()));
});

describe('resilience against a real Synapse', () => {
  it('300 messages, 8 at a time, through resets, 502s and delays: zero lost, zero duplicated', async () => {
    const direct = await registered('faults');
    const sender = direct.session.userId!;
    const { room_id: roomId } = await direct.session.rooms.create({ name: 'fault injection' });

    const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const proxy = await startFaultProxy(env.baseUrl, {
      seed,
      resetRate: 0.12, // forwarded, acted on by Synapse, then the connection is reset: the reply is lost
      badGatewayRate: 0.1,
      delayRate: 0.1,
      delayMs: 40,
      // Below the default maxRetries (3): whether a message lands depends on the SDK, not on the dice.
      maxFaultsPerRequest: 2,
    });
    proxies.push(proxy);
    // The same token, so the same device: Synapse de-duplicates by (device, txnId).
    const viaProxy = tracked({
      baseUrl: proxy.url,
      accessToken: direct.session.getAccessToken(),
      userId: sender,
      deviceId: direct.session.deviceId,
      backoffBaseMs: 5,
      backoffMaxMs: 40,
    });

    const COUNT = 300;
    const run = uniqueName('run');
    const bodyOf = (i: number) => `${run} message ${i}`;
    const started = Date.now();
    const outcomes = await pool(COUNT, 8, (i) => traced('send', () => viaProxy.session.rooms.sendText(roomId, bodyOf(i))));
    const sendMs = Date.now() - started;

    const failures = outcomes.filter((o) => !o.ok);
    const counts = await readBodies(direct.session, roomId, sender);
    const expected = new Set(Array.from({ length: COUNT }, (_, i) => bodyOf(i)));
    const lost = [...expected].filter((b) => !counts.has(b));
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    const strangers = [...counts.keys()].filter((b) => !expected.has(b));
    const retries = viaProxy.logs.filter((l) => l.startsWith('->') && l.includes('(retry ')).length;
    const eventIds = new Set(outcomes.flatMap((o) => (o.ok ? [o.value.event_id] : [])));

    console.log(
      `[resilience] seed=${seed} sent=${COUNT} landed=${counts.size} duplicates=${duplicates} lost=${lost.length} ` +
        `failed=${failures.length} retries=${retries} faults=${proxy.faults()} ` +
        `(reset=${proxy.counters.reset} 502=${proxy.counters.badGateway} delayed=${proxy.counters.delayed} ` +
        `proxied=${proxy.counters.requests}) in ${sendMs} ms`,
    );
    expect(failures).toEqual([]);
    expect(lost).toEqual([]);
    expect(duplicates).toBe(0);
    expect(strangers).toEqual([]);
    expect(counts.size).toBe(COUNT);
    // A lost reply was retried with the same txnId, so Synapse answered with the same event ID.
    expect(eventIds.size).toBe(COUNT);
    // The faults happened, and each cost exactly one retry: nothing else was repeated.
    expect(proxy.counters.reset).toBeGreaterThan(0);
    expect(proxy.counters.badGateway).toBeGreaterThan(0);
    expect(retries).toBe(proxy.faults());
    // One lookup of the room's encryption state, shared by the first concurrent sends, then the sends.
    const lookups = viaProxy.logs.filter((l) => l.startsWith('->') && l.includes('/state/m.room.encryption') && !l.includes('(retry ')).length;
    expect(lookups).toBe(1);
    expect(proxy.counters.requests).toBe(COUNT + lookups + retries);
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

    it('a burst of 50 against a low limit: every message lands once, after rateLimited waits', async () => {
      // Enough retries to outlast the limiter: 50 at once against a burst of 10 take several rounds.
      const t = await registered('burst', { maxRetries: 50 });
      const s = t.session;
      // The room first: createRoom counts against the same per-user limiter.
      const { room_id: roomId } = await s.rooms.create({});
      await overrideRatelimit(env.baseUrl, adminToken, s.userId!, { messagesPerSecond: 50, burstCount: 10 });
      const run = uniqueName('burst');
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => traced('burst send', () => s.rooms.sendText(roomId, `${run} ${i}`))),
      );
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      const counts = await readBodies(s, roomId, s.userId!);
      const mine = [...counts.entries()].filter(([b]) => b.startsWith(run));
      expect(mine).toHaveLength(50);
      expect(mine.every(([, n]) => n === 1)).toBe(true);

      const limited = (t.events.rateLimited ?? []) as Array<{ method: string; path: string; delayMs: number; attempt: number }>;
      console.log(`[resilience] burst of 50: ${limited.length} rateLimited waits, longest ${Math.max(...limited.map((l) => l.delayMs))} ms`);
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
    console.log(`[resilience] refresh: ${calls} calls over 16 s, ${refreshes} refreshes, ${changed.length} tokenChanged, ${failures.length} failures`);
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
      const { session } = tracked({ baseUrl: blackhole.url, accessToken: token, userId, timeoutMs: 700 });
      const before = blackhole.counters.requests;
      const started = performance.now();
      const e = await rejection(traced('timeout', () => session.account.whoami()));
      const elapsed = performance.now() - started;
      expect(e).toBeInstanceOf(TimeoutError);
      expect((e as TimeoutError).timeoutMs).toBe(700);
      expect(elapsed).toBeGreaterThanOrEqual(700 - 5); // timer granularity
      expect(elapsed).toBeLessThan(15_000); // the default would be 30 s
      expect(blackhole.counters.requests - before).toBe(1); // a timeout is not retried
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
