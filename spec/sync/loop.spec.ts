import { createServer, type AddressInfo } from 'node:net';
import nock from 'nock';
import { MatrixError, MatrixSession, NotLoggedInError, ValidationError } from '../../lib';
import { setSyncHooks } from '../../lib/sync/hooks';
import { syncBackoff } from '../../lib/sync/loop';
import { canonicalJson, MemorySyncStore, type StoredFilter, type SyncStore } from '../../lib/sync/store';
import type { SyncErrorInfo, SyncItem, SyncState } from '../../lib/sync/types';
import type { SyncResponse, SyncRoomEvent } from '../../lib/types';

const BASE = 'http://hs.test';
const ME = '@me:hs.test';
const ROOM = '!room:hs.test';
const SYNC = '/_matrix/client/v3/sync';
const VERSIONS = '/_matrix/client/versions';

type Query = Record<string, string>;
interface PendingSync {
  query: Query;
  respond(status: number, body: unknown, headers?: Record<string, string>): void;
}

/** Registers one interceptor for a GET /sync; resolves when the loop makes it, and the test answers it when it likes. */
function nextSync(): Promise<PendingSync> {
  return new Promise((hit) => {
    nock(BASE)
      .get(SYNC)
      .query(true)
      .reply(
        (uri) =>
          new Promise((answer) => {
            const query = Object.fromEntries(new URL(uri, BASE).searchParams);
            hit({ query, respond: (status, body, headers) => answer([status, JSON.stringify(body), headers ?? {}]) });
          }),
      );
  });
}

/** A GET /sync answered at once; resolves with its query. */
function syncReply(body: SyncResponse | Record<string, unknown>, status = 200, headers?: Record<string, string>): Promise<Query> {
  return nextSync().then((p) => {
    p.respond(status, body, headers);
    return p.query;
  });
}

function batch(next: string, messages: string[] = [], roomId = ROOM): SyncResponse {
  return {
    next_batch: next,
    rooms: { join: { [roomId]: { timeline: { events: messages.map((m) => message(m)) } } } },
  };
}

let counter = 0;
/** A message as the server sends it in a sync timeline: without room_id. */
function message(body: string, sender = '@other:hs.test'): SyncRoomEvent {
  return {
    type: 'm.room.message',
    event_id: `$e${++counter}`,
    sender,
    origin_server_ts: 1,
    content: { msgtype: 'm.text', body },
  } as Omit<SyncRoomEvent, 'room_id'> as SyncRoomEvent;
}

async function until<T>(fn: () => T | undefined | false, what = 'condition'): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} not met within 5 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets timers and I/O run for a while: only used to show that something does NOT happen. */
const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

const sessions: MatrixSession[] = [];
function session(): MatrixSession {
  const s = new MatrixSession({ baseUrl: BASE, accessToken: 'tok', userId: ME, deviceId: 'DEV', maxRetries: 0 });
  sessions.push(s);
  return s;
}

function record(s: MatrixSession) {
  const states: Array<[SyncState, SyncState]> = [];
  const errors: Array<[unknown, SyncErrorInfo]> = [];
  const messages: string[] = [];
  s.on('sync', (state, prev) => void states.push([state, prev]));
  s.on('sync.error', (error, info) => void errors.push([error, info]));
  s.on('room.message', (_roomId, ev) => void messages.push(ev.content.body as string));
  return { states, errors, messages };
}

class SpyStore implements SyncStore {
  readonly inner = new MemorySyncStore();
  readonly tokens: string[] = [];
  filterWrites = 0;
  constructor(token?: string, filter?: StoredFilter) {
    if (token) this.inner.setSyncToken(token);
    if (filter) this.inner.setFilter(filter);
  }
  getSyncToken() {
    return this.inner.getSyncToken();
  }
  async setSyncToken(token: string) {
    this.tokens.push(token);
    this.inner.setSyncToken(token);
  }
  getFilter() {
    return this.inner.getFilter();
  }
  setFilter(f: StoredFilter | undefined) {
    this.filterWrites++;
    this.inner.setFilter(f);
  }
}

/** A local port nothing listens on: connecting to it is refused at once. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const unmatched: string[] = [];
const onNoMatch = (req: { method?: string; path?: string }) => unmatched.push(`${req.method} ${req.path}`);

beforeAll(() => {
  nock.disableNetConnect();
  nock.emitter.on('no match', onNoMatch);
});
afterAll(() => {
  nock.emitter.removeListener('no match', onNoMatch);
  nock.enableNetConnect();
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.sync.stop()));
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
  expect(unmatched.splice(0)).toEqual([]);
});

describe('sync loop: states and position', () => {
  it('goes PREPARED after the first batch, SYNCING after the next, STOPPED on stop; each request sends the previous next_batch', async () => {
    const s = session();
    const rec = record(s);
    const first = syncReply(batch('t1', ['a']));
    const second = syncReply(batch('t2', ['b']));
    const third = nextSync();
    await s.sync.start({ timeout: 5000, setPresence: 'offline' });
    expect(s.sync.running).toBe(true);

    expect(await first).toEqual({ timeout: '5000', set_presence: 'offline' });
    expect(await second).toEqual({ since: 't1', timeout: '5000', set_presence: 'offline' });
    expect((await third).query.since).toBe('t2');
    await until(() => rec.states.length >= 2);
    await s.sync.stop();

    expect(rec.states).toEqual([
      ['PREPARED', 'STOPPED'],
      ['SYNCING', 'PREPARED'],
      ['STOPPED', 'SYNCING'],
    ]);
    expect(rec.messages).toEqual(['a', 'b']);
    expect(rec.errors).toEqual([]);
    expect(s.sync.running).toBe(false);
    expect(s.sync.state).toBe('STOPPED');
  });

  it('asks for full_state on the first request of a run only, and sends the filter ID', async () => {
    const s = session();
    const first = syncReply(batch('t1'));
    const second = nextSync();
    await s.sync.start({ fullState: true, filter: 'f-9', timeout: 0 });
    expect(await first).toEqual({ full_state: 'true', filter: 'f-9', timeout: '0' });
    expect((await second).query).toEqual({ filter: 'f-9', since: 't1', timeout: '0' });
  });

  it('resumes from the default store after stop() and start() on the same session', async () => {
    const s = session();
    const first = syncReply(batch('t1'));
    const hang = nextSync();
    await s.sync.start();
    await first;
    await hang;
    await s.sync.stop();
    const again = nextSync();
    await s.sync.start();
    expect((await again).query.since).toBe('t1');
  });

  it('stop() aborts the long poll in flight at once and resolves when the loop has ended', async () => {
    const s = session();
    const rec = record(s);
    const first = syncReply(batch('t1'));
    const hang = nextSync(); // never answered
    await s.sync.start({ timeout: 30_000 });
    await first;
    await hang;
    const t0 = Date.now();
    await s.sync.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(rec.states.at(-1)).toEqual(['STOPPED', 'PREPARED']);
    expect(rec.errors).toEqual([]); // an abort is not a failure
    expect(s.sync.running).toBe(false);
  });

  it('stop() during a backoff wait ends the wait at once', async () => {
    const s = session();
    const rec = record(s);
    nock(BASE).get(SYNC).query(true).reply(502, { errcode: 'M_UNKNOWN' });
    await s.sync.start({ backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    await until(() => rec.errors.length === 1);
    const t0 = Date.now();
    await s.sync.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(rec.states).toEqual([
      ['RECONNECTING', 'STOPPED'],
      ['STOPPED', 'RECONNECTING'],
    ]);
  });

  it('session.close() stops the loop too', async () => {
    const s = session();
    const rec = record(s);
    const hang = nextSync();
    await s.sync.start();
    await hang;
    await s.close();
    expect(s.sync.running).toBe(false);
    expect(rec.states).toEqual([['STOPPED', 'STOPPED']]); // every run ends with STOPPED, even one that never got a batch
  });

  it('refuses a second start while running, a start without a token, and bad options', async () => {
    const s = session();
    const hang = nextSync();
    await s.sync.start();
    await hang;
    await expect(s.sync.start()).rejects.toThrow(/already running/);
    await s.sync.stop();

    const anon = new MatrixSession({ baseUrl: BASE });
    await expect(anon.sync.start()).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(s.sync.start({ timeout: -1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ setPresence: 'away' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ backoffBaseMs: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ store: {} as SyncStore })).rejects.toBeInstanceOf(ValidationError);
    expect(s.sync.running).toBe(false);
  });
});

describe('sync loop: failures', () => {
  it('backs off with a doubling delay, goes RECONNECTING then ERROR at the third failure, probes /versions, resumes SYNCING', async () => {
    const s = session();
    const rec = record(s);
    const first = syncReply(batch('t1', ['a']));
    // 5xx answers stand for an unreachable server here (nock's replyWithError leaks unhandled
    // errors across spec files in one worker); real connection failures are tested below and on Synapse.
    nock(BASE).get(SYNC).query({ since: 't1', timeout: '30000' }).reply(504, 'Gateway Timeout');
    nock(BASE).get(VERSIONS).reply(503, 'Service Unavailable');
    nock(BASE).get(VERSIONS).reply(502, 'Bad Gateway');
    nock(BASE).get(VERSIONS).reply(200, { versions: ['v1.11'] });
    const resumed = syncReply(batch('t2', ['b']));
    const hang = nextSync();
    await s.sync.start({ backoffBaseMs: 8, backoffMaxMs: 20 });
    await first;
    expect((await resumed).since).toBe('t1');
    expect((await hang).query.since).toBe('t2');

    expect(rec.states).toEqual([
      ['PREPARED', 'STOPPED'],
      ['RECONNECTING', 'PREPARED'],
      ['ERROR', 'RECONNECTING'],
      ['SYNCING', 'ERROR'],
    ]);
    expect(rec.errors.map(([e, i]) => [(e as Error).name, i.source, i.failures])).toEqual([
      ['MatrixError', 'sync', 1],
      ['MatrixError', 'probe', 2],
      ['MatrixError', 'probe', 3],
    ]);
    const delays = rec.errors.map(([, i]) => i.retryInMs as number);
    expect(delays[0]).toBeGreaterThanOrEqual(4);
    expect(delays[0]).toBeLessThanOrEqual(8);
    expect(delays[1]).toBeGreaterThanOrEqual(8);
    expect(delays[1]).toBeLessThanOrEqual(16);
    expect(delays[2]).toBeGreaterThanOrEqual(10); // capped at 20
    expect(delays[2]).toBeLessThanOrEqual(20);
    expect(rec.messages).toEqual(['a', 'b']);
  });

  it('treats a 5xx from /sync as transient: the probe answers, the next sync succeeds, the failure count resets', async () => {
    const s = session();
    const rec = record(s);
    nock(BASE).get(SYNC).query(true).reply(500, { errcode: 'M_UNKNOWN', error: 'boom' });
    nock(BASE).get(VERSIONS).reply(404, 'not here'); // any non-5xx answer means the server is up
    const ok = syncReply(batch('t1'));
    nock(BASE).get(SYNC).query(true).reply(503, 'busy');
    nock(BASE).get(VERSIONS).reply(200, { versions: [] });
    const hang = nextSync();
    await s.sync.start({ backoffBaseMs: 1, backoffMaxMs: 2 });
    await ok;
    await hang;
    expect(rec.errors.map(([, i]) => i.failures)).toEqual([1, 1]);
    expect(rec.states.map(([st]) => st)).toEqual(['RECONNECTING', 'PREPARED', 'RECONNECTING']);
  });

  it('treats a refused connection as transient: RECONNECTING, sync.error with a ConnectionError, probing goes on', async () => {
    const port = await closedPort();
    nock.enableNetConnect(`127.0.0.1:${port}`);
    try {
      const s = new MatrixSession({ baseUrl: `http://127.0.0.1:${port}`, accessToken: 'tok', userId: ME, maxRetries: 0 });
      sessions.push(s);
      const rec = record(s);
      await s.sync.start({ backoffBaseMs: 1, backoffMaxMs: 2 });
      await until(() => rec.errors.length >= 4, 'four failures');
      await s.sync.stop();
      expect(rec.errors.slice(0, 4).map(([e, i]) => [(e as Error).name, (e as { code?: string }).code, i.source, i.failures])).toEqual([
        ['ConnectionError', 'ECONNREFUSED', 'sync', 1],
        ['ConnectionError', 'ECONNREFUSED', 'probe', 2],
        ['ConnectionError', 'ECONNREFUSED', 'probe', 3],
        ['ConnectionError', 'ECONNREFUSED', 'probe', 4],
      ]);
      expect(rec.states.slice(0, 2)).toEqual([
        ['RECONNECTING', 'STOPPED'],
        ['ERROR', 'RECONNECTING'],
      ]);
      expect(rec.states.at(-1)).toEqual(['STOPPED', 'ERROR']);
    } finally {
      nock.disableNetConnect();
      unmatched.splice(0); // nock reports the requests it let through to the closed port as unmatched
    }
  });

  it('waits out a 429 (Retry-After) without RECONNECTING and emits rateLimited', async () => {
    const s = session();
    const rec = record(s);
    const limited: number[] = [];
    s.on('rateLimited', (i) => void limited.push(i.delayMs));
    const first = syncReply({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 3 }, 429);
    const second = syncReply(batch('t1'));
    const hang = nextSync();
    await s.sync.start();
    await first;
    await second;
    await hang;
    expect(limited).toEqual([3]);
    expect(rec.errors.map(([, i]) => [i.source, i.retryInMs])).toEqual([['sync', 3]]);
    expect(rec.states.map(([st]) => st)).toEqual(['PREPARED']);
  });

  it('stops on 401 M_UNKNOWN_TOKEN: sessionExpired, then sync.error with no retry, then STOPPED with the error', async () => {
    const s = session();
    const order: string[] = [];
    let stoppedWith: unknown;
    s.on('sessionExpired', () => void order.push('sessionExpired'));
    s.on('sync.error', (_e, info) => void order.push(`sync.error ${info.retryInMs}`));
    s.on('sync', (state, _prev, info) => {
      order.push(`sync ${state}`);
      stoppedWith = info.error;
    });
    syncReply({ errcode: 'M_UNKNOWN_TOKEN', error: 'gone' }, 401);
    await s.sync.start();
    await until(() => !s.sync.running);
    expect(order).toEqual(['sessionExpired', 'sync.error null', 'sync STOPPED']);
    expect(stoppedWith).toBeInstanceOf(MatrixError);
    expect((stoppedWith as MatrixError).errcode).toBe('M_UNKNOWN_TOKEN');
    expect(s.isLoggedIn).toBe(false);
  });

  it('stops with an error on other 4xx answers, never looping on them', async () => {
    const s = session();
    const rec = record(s);
    syncReply({ errcode: 'M_FORBIDDEN', error: 'no' }, 403);
    await s.sync.start();
    await until(() => !s.sync.running);
    expect(rec.errors.map(([e, i]) => [(e as MatrixError).errcode, i.source, i.retryInMs])).toEqual([['M_FORBIDDEN', 'sync', null]]);
    expect(rec.states).toEqual([['STOPPED', 'STOPPED']]);
  });

  it('stops with sync.error (source store) when the store fails', async () => {
    const s = session();
    const rec = record(s);
    const store = new SpyStore();
    store.setSyncToken = async () => {
      throw new Error('disk full');
    };
    syncReply(batch('t1', ['a']));
    await s.sync.start({ store });
    await until(() => !s.sync.running);
    expect(rec.messages).toEqual(['a']);
    expect(rec.errors.map(([e, i]) => [(e as Error).message, i.source, i.retryInMs])).toEqual([['disk full', 'store', null]]);
    expect(rec.states.at(-1)?.[0]).toBe('STOPPED');
  });

  it('a store failure while stopping is still reported', async () => {
    const s = session();
    const rec = record(s);
    const store = new SpyStore();
    store.setSyncToken = async () => {
      throw new Error('disk gone');
    };
    let release!: () => void;
    let entered = false;
    s.on('room.message', () => {
      entered = true;
      return new Promise<void>((r) => (release = r));
    });
    syncReply(batch('t1', ['a']));
    await s.sync.start({ store });
    await until(() => entered);
    const stopped = s.sync.stop();
    release();
    await stopped;
    expect(rec.errors.map(([e, i]) => [(e as Error).message, i.source, i.retryInMs])).toEqual([['disk gone', 'store', null]]);
    expect(rec.states).toEqual([['STOPPED', 'STOPPED']]);
  });

  it('computes backoff as full jitter between half and all of base·2^(n-1), capped', () => {
    for (let i = 0; i < 200; i++) {
      const d1 = syncBackoff(1, 1000, 60_000);
      expect(d1).toBeGreaterThanOrEqual(500);
      expect(d1).toBeLessThanOrEqual(1000);
      const d4 = syncBackoff(4, 1000, 60_000);
      expect(d4).toBeGreaterThanOrEqual(4000);
      expect(d4).toBeLessThanOrEqual(8000);
      const d20 = syncBackoff(20, 1000, 60_000);
      expect(d20).toBeGreaterThanOrEqual(30_000);
      expect(d20).toBeLessThanOrEqual(60_000);
    }
  });
});

describe('sync loop: saving the position', () => {
  it('saves next_batch only after every listener of the batch has settled', async () => {
    const s = session();
    const store = new SpyStore();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let calls = 0;
    s.on('room.message', async () => {
      calls++;
      await slow;
    });
    const first = syncReply(batch('t1', ['a', 'b']));
    const hang = nextSync();
    await s.sync.start({ store });
    await first;
    await until(() => calls === 2);
    await settle();
    expect(store.tokens).toEqual([]);
    release();
    await until(() => store.tokens.length === 1);
    expect(store.tokens).toEqual(['t1']);
    await hang;
  });

  it('also when only one listener call of the batch, in the middle, returns a promise', async () => {
    const s = session();
    const store = new SpyStore();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    s.on('room.message', (_roomId, ev) => {
      const body = (ev.content as { body: string }).body;
      seen.push(body);
      return body === 'b' ? slow : undefined;
    });
    s.on('room.event', () => undefined);
    const first = syncReply(batch('t1', ['a', 'b', 'c']));
    const hang = nextSync();
    await s.sync.start({ store });
    await first;
    await until(() => seen.length === 3);
    await settle();
    expect(store.tokens).toEqual([]);
    release();
    await until(() => store.tokens.length === 1);
    expect(store.tokens).toEqual(['t1']);
    await hang;
  });

  it('with saveTokenBeforeDispatch, saves it before the listeners run', async () => {
    const s = session();
    const store = new SpyStore();
    const seen: string[][] = [];
    s.on('room.message', () => void seen.push([...store.tokens]));
    const first = syncReply(batch('t1', ['a']));
    const hang = nextSync();
    await s.sync.start({ store, saveTokenBeforeDispatch: true });
    await first;
    await hang;
    expect(seen).toEqual([['t1']]);
    expect(store.tokens).toEqual(['t1']);
  });

  it('starts from the token in the store', async () => {
    const s = session();
    const first = nextSync();
    await s.sync.start({ store: new SpyStore('stored-7') });
    expect((await first).query.since).toBe('stored-7');
  });

  it('a listener that throws or rejects is reported through sync.error; the other listeners and the loop go on', async () => {
    const s = session();
    const rec = record(s);
    const store = new SpyStore();
    const other: string[] = [];
    let n = 0;
    s.on('room.message', () => {
      if (++n % 3 === 0) throw new Error(`throw ${n}`);
    });
    s.on('room.message', async (_r, ev) => {
      if (ev.content.body === 'e') throw new Error('reject e');
    });
    s.on('room.message', (_r, ev) => void other.push(ev.content.body as string));
    const first = syncReply(batch('t1', ['a', 'b', 'c', 'd', 'e', 'f']));
    const hang = nextSync();
    await s.sync.start({ store });
    await first;
    await hang;
    expect(other).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(rec.errors.map(([e, i]) => [(e as Error).message, i.source, i.event, i.retryInMs])).toEqual([
      ['throw 3', 'listener', 'room.message', undefined],
      ['throw 6', 'listener', 'room.message', undefined],
      ['reject e', 'listener', 'room.message', undefined],
    ]);
    expect(store.tokens).toEqual(['t1']);
  });

  it('a throwing sync.error listener does not report itself again (no loop)', async () => {
    const s = session();
    const listenerErrors: string[] = [];
    let calls = 0;
    s.on('listenerError', (i) => void listenerErrors.push(i.event));
    s.on('sync.error', () => {
      calls++;
      throw new Error('bad handler');
    });
    s.on('room.message', () => {
      throw new Error('bad listener');
    });
    const first = syncReply(batch('t1', ['a']));
    const hang = nextSync();
    await s.sync.start();
    await first;
    await hang;
    expect(calls).toBe(1);
    // The room.message failure is reported once, as sync.error; only the failing
    // sync.error listener itself falls back to listenerError.
    expect(listenerErrors).toEqual(['sync.error']);
  });
});

describe('sync loop: filters', () => {
  const FILTER = { room: { timeline: { limit: 50 } }, presence: { not_types: ['*'] } };

  function expectFilterCreated(id: string, body: unknown = FILTER) {
    return nock(BASE).post(`/_matrix/client/v3/user/${encodeURIComponent(ME)}/filter`, body as nock.RequestBodyMatcher).reply(200, { filter_id: id });
  }

  it('creates a filter object once, keeps its ID in the store and reuses it on later starts and sessions', async () => {
    const store = new SpyStore();
    const s = session();
    expectFilterCreated('f1');
    const first = syncReply(batch('t1'));
    const hang = nextSync();
    await s.sync.start({ store, filter: FILTER });
    expect((await first).filter).toBe('f1');
    await hang;
    await s.sync.stop();
    expect(await store.getFilter()).toEqual({ id: 'f1', definition: JSON.stringify({ presence: { not_types: ['*'] }, room: { timeline: { limit: 50 } } }), userId: ME });

    // Same session, same filter written with its keys in another order: no new POST.
    const again = nextSync();
    await s.sync.start({ store, filter: { presence: { not_types: ['*'] }, room: { timeline: { limit: 50 } } } });
    expect((await again).query.filter).toBe('f1');
    await s.sync.stop();

    // A new session on the same store.
    const s2 = session();
    const third = nextSync();
    await s2.sync.start({ store, filter: FILTER });
    expect((await third).query).toEqual({ filter: 'f1', since: 't1', timeout: '30000' });
    await s2.sync.stop();
    expect(store.filterWrites).toBe(1);

    // A changed filter gets a new ID.
    expectFilterCreated('f2', { room: { timeline: { limit: 5 } } });
    const fourth = nextSync();
    await s2.sync.start({ store, filter: { room: { timeline: { limit: 5 } } } });
    expect((await fourth).query.filter).toBe('f2');
    expect((await store.getFilter())?.id).toBe('f2');
  });

  it('creates the filter again, once, when the server no longer knows the stored ID', async () => {
    const store = new SpyStore(undefined, { id: 'old', definition: canonicalJson(FILTER), userId: ME });
    const s = session();
    const rejected = syncReply({ errcode: 'M_INVALID_PARAM', error: 'No such filter' }, 400);
    expectFilterCreated('new');
    const ok = nextSync();
    const rec = record(s);
    await s.sync.start({ store, filter: FILTER });
    expect((await rejected).filter).toBe('old');
    expect((await ok).query.filter).toBe('new');
    expect(rec.errors).toEqual([]);
  });

  it('a failed filter creation backs off like a failed sync (source filter)', async () => {
    const s = session();
    const rec = record(s);
    nock(BASE).post(`/_matrix/client/v3/user/${encodeURIComponent(ME)}/filter`).reply(502, 'Bad Gateway');
    nock(BASE).get(VERSIONS).reply(200, { versions: [] });
    expectFilterCreated('f1');
    const first = nextSync();
    await s.sync.start({ filter: FILTER, backoffBaseMs: 1, backoffMaxMs: 1 });
    expect((await first).query.filter).toBe('f1');
    expect(rec.errors.map(([, i]) => i.source)).toEqual(['filter']);
  });
});

describe('sync loop: autoJoin', () => {
  const invite: SyncResponse = {
    next_batch: 't1',
    rooms: {
      invite: {
        [ROOM]: {
          invite_state: {
            events: [{ type: 'm.room.member', state_key: ME, sender: '@bob:hs.test', content: { membership: 'invite' } }],
          },
        },
      },
    },
  };

  it('joins invited rooms, and the position is saved after the join', async () => {
    const s = session();
    const store = new SpyStore();
    const invites: Array<[string, string | undefined]> = [];
    s.on('room.invite', (roomId, ev) => void invites.push([roomId, ev?.sender]));
    let tokensAtJoin: string[] | undefined;
    nock(BASE)
      .post(`/_matrix/client/v3/join/${encodeURIComponent(ROOM)}`)
      .reply(() => {
        tokensAtJoin = [...store.tokens];
        return [200, { room_id: ROOM }];
      });
    const first = syncReply(invite);
    const hang = nextSync();
    await s.sync.start({ store, autoJoin: true });
    await first;
    await hang;
    expect(tokensAtJoin).toEqual([]);
    expect(invites).toEqual([[ROOM, '@bob:hs.test']]);
    expect(store.tokens).toEqual(['t1']);
  });

  it('reports a failed join as sync.error (source autoJoin) and goes on', async () => {
    const s = session();
    const rec = record(s);
    nock(BASE).post(`/_matrix/client/v3/join/${encodeURIComponent(ROOM)}`).reply(403, { errcode: 'M_FORBIDDEN' });
    const first = syncReply(invite);
    const hang = nextSync();
    await s.sync.start({ autoJoin: true });
    await first;
    await hang;
    expect(rec.errors.map(([, i]) => [i.source, i.roomId, i.retryInMs])).toEqual([['autoJoin', ROOM, undefined]]);
  });

  it('does not join without the option', async () => {
    const s = session();
    const first = syncReply(invite);
    const hang = nextSync();
    await s.sync.start();
    await first;
    await hang; // no POST /join interceptor: one would show up as an unmatched request
  });
});

describe('sync.events(): async iteration', () => {
  it('yields the events of each batch in order, filtered by type, and ends on stop()', async () => {
    const s = session();
    const events = s.sync.events({ types: ['m.room.message'] });
    const first = syncReply({
      ...batch('t1', ['a', 'b']),
      account_data: { events: [{ type: 'm.push_rules', content: {} }] },
    });
    const second = syncReply(batch('t2', ['c']));
    await s.sync.start();
    const got: string[] = [];
    for await (const item of events) {
      expect(item.kind).toBe('timeline');
      got.push((item.event as SyncRoomEvent).content.body as string);
      // The loop waits for this consumer: no third request is made before it asks for more.
      if (got.length === 3) void s.sync.stop();
    }
    await first;
    await second;
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('backpressure: the loop does not fetch the next batch nor save the position until the consumer took the batch', async () => {
    const s = session();
    const store = new SpyStore();
    const events = s.sync.events();
    const first = syncReply(batch('t1', ['a', 'b']));
    let secondAsked = false;
    const second = nextSync().then((p) => {
      secondAsked = true;
      return p;
    });
    await s.sync.start({ store });
    await first;
    const it = events[Symbol.asyncIterator]();
    const a = await it.next();
    expect((a.value as SyncItem).event).toMatchObject({ content: { body: 'a' } });
    await settle();
    expect(secondAsked).toBe(false);
    const b = await it.next();
    expect((b.value as SyncItem).event).toMatchObject({ content: { body: 'b' } });
    await settle();
    expect(secondAsked).toBe(false); // b is being handled until the consumer asks for more
    expect(store.tokens).toEqual([]);
    const c = it.next(); // done with b
    await second;
    expect(store.tokens).toEqual(['t1']);
    await s.sync.stop();
    expect(await c).toEqual({ value: undefined, done: true });
  });

  it('break detaches the iterator; the loop goes on for the listeners', async () => {
    const s = session();
    const rec = record(s);
    const store = new SpyStore();
    const events = s.sync.events();
    const first = syncReply(batch('t1', ['a', 'b', 'c']));
    const second = syncReply(batch('t2', ['d']));
    const hang = nextSync();
    await s.sync.start({ store });
    for await (const item of events) {
      expect(item.event).toMatchObject({ content: { body: 'a' } });
      break;
    }
    await first;
    await second;
    await hang;
    expect(rec.messages).toEqual(['a', 'b', 'c', 'd']);
    expect(store.tokens).toEqual(['t1', 't2']);
  });

  it('stop() in the middle of a batch ends the iteration and leaves the batch unsaved, so the next run replays it', async () => {
    const store = new SpyStore('t0');
    const s = session();
    const events = s.sync.events();
    const first = syncReply(batch('t1', ['a', 'b', 'c']));
    await s.sync.start({ store });
    const got: string[] = [];
    for await (const item of events) {
      got.push((item.event as SyncRoomEvent).content.body as string);
      if (got.length === 2) await s.sync.stop();
    }
    await first;
    expect(got).toEqual(['a', 'b']);
    expect(store.tokens).toEqual([]);

    const s2 = session();
    const replay = nextSync();
    await s2.sync.start({ store });
    expect((await replay).query.since).toBe('t0');
  });

  it('keeps only the kinds asked for', async () => {
    const s = session();
    const events = s.sync.events({ kinds: ['account_data', 'ephemeral'] });
    syncReply({
      next_batch: 't1',
      account_data: { events: [{ type: 'm.direct', content: {} }] },
      rooms: { join: { [ROOM]: { timeline: { events: [message('x')] }, ephemeral: { events: [{ type: 'm.typing', content: { user_ids: [] } }] } } } },
    });
    await s.sync.start();
    const got: string[] = [];
    for await (const item of events) {
      got.push(`${item.kind} ${item.event.type} ${'roomId' in item ? item.roomId : '-'}`);
      if (got.length === 2) void s.sync.stop();
    }
    expect(got).toEqual(['account_data m.direct -', `ephemeral m.typing ${ROOM}`]);
  });

  it('rejects bad options', () => {
    const s = session();
    expect(() => s.sync.events({ kinds: ['nope' as never] })).toThrow(ValidationError);
    expect(() => s.sync.events({ types: [''] })).toThrow(ValidationError);
  });

  it('an iterator created while stopped ends on stop()', async () => {
    const s = session();
    const it = s.sync.events()[Symbol.asyncIterator]();
    const next = it.next();
    await s.sync.stop();
    expect(await next).toEqual({ value: undefined, done: true });
  });
});

describe('sync loop: the batch hooks (encryption)', () => {
  it('calls receive and prepare before dispatch, done after the position is saved; prepare may rewrite and add events', async () => {
    const s = session();
    const store = new SpyStore();
    const order: string[] = [];
    const got = record(s);
    s.on('room.message', () => void order.push('dispatch'));
    setSyncHooks(s.sync, {
      receive: async (body) => void order.push(`receive ${body.next_batch}`),
      prepare: async (body) => {
        order.push('prepare');
        const events = body.rooms!.join![ROOM].timeline!.events;
        events[0] = { ...events[0], content: { body: 'rewritten' } };
        body.rooms!.join!['!other:hs.test'] = { timeline: { events: [message('added')] } };
      },
      done: (body) => void order.push(`done ${body.next_batch} saved=${store.tokens.join(',')}`),
    });
    syncReply(batch('t1', ['original']));
    const third = nextSync(); // the next long poll, left hanging until stop()
    await s.sync.start({ store });
    await until(() => order.some((o) => o.startsWith('done')), 'done');
    await third;
    await s.sync.stop();
    expect(order).toEqual(['receive t1', 'prepare', 'dispatch', 'dispatch', 'done t1 saved=t1']);
    expect(got.messages).toEqual(['rewritten', 'added']);
  });

  it('a failing hook is reported (source crypto) and the same batch is asked for again', async () => {
    const s = session();
    const got = record(s);
    let fail = true;
    setSyncHooks(s.sync, {
      receive: async () => {
        if (fail) {
          fail = false;
          throw new Error('engine busy');
        }
      },
    });
    syncReply(batch('t1', ['first try']));
    const probe = nock(BASE).get(VERSIONS).reply(200, { versions: [] });
    const second = syncReply(batch('t1', ['second try']));
    const third = nextSync();
    await s.sync.start({ backoffBaseMs: 1, backoffMaxMs: 2 });
    const query = await second;
    await third;
    expect(query.since).toBeUndefined(); // not advanced past the batch the engine did not take
    await until(() => got.messages.length > 0, 'the batch delivered');
    await s.sync.stop();
    expect(got.messages).toEqual(['second try']);
    expect(got.errors[0][1]).toMatchObject({ source: 'crypto' });
    expect(probe.isDone()).toBe(true);
  });

  it('m.room.encrypted timeline events go to room.undecryptable too (crypto not started: code CryptoNotStarted)', async () => {
    const s = session();
    const seen: Array<[string, string]> = [];
    s.on('room.undecryptable', (roomId, ev, info) => void seen.push([ev.event_id, info.code]));
    const encrypted = { type: 'm.room.encrypted', event_id: '$enc', sender: '@o:hs.test', origin_server_ts: 1, content: { algorithm: 'm.megolm.v1.aes-sha2' } };
    syncReply({ next_batch: 't1', rooms: { join: { [ROOM]: { timeline: { events: [encrypted] } } } } });
    const next = nextSync();
    await s.sync.start();
    await until(() => seen.length > 0, 'room.undecryptable');
    await next;
    await s.sync.stop();
    expect(seen).toEqual([['$enc', 'CryptoNotStarted']]);
  });
});
