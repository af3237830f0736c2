// The sync loop against a broken or hostile server, served by a real HTTP stub on 127.0.0.1:
// it must not freeze (fake array lengths), crash (null events), take a wrong shape for a
// right one, or flood the server (delays it cannot honour).
import { InvalidResponseError, MatrixError, MatrixSession, RequestCore, type SyncErrorInfo } from '../../lib';
import type { SyncState } from '../../lib/sync/types';
import { until, useSyncStub, type StubReply } from '../helpers/sync-stub';

const ME = '@me:stub';
const ROOM = '!room:stub';
const SYNC = '/_matrix/client/v3/sync';
const MAX_TIMER_MS = 2 ** 31 - 1;

const { serve, session } = useSyncStub(ME);

function record(s: MatrixSession) {
  const errors: Array<[unknown, SyncErrorInfo]> = [];
  const states: SyncState[] = [];
  const messages: string[] = [];
  const limited: number[] = [];
  s.on('sync.error', (e, info) => void errors.push([e, info]));
  s.on('sync', (st) => void states.push(st));
  s.on('room.message', (_r, ev) => void messages.push(String(ev.content.body)));
  s.on('rateLimited', (i) => void limited.push(i.delayMs));
  return { errors, states, messages, limited };
}

const message = (body: string, id: string) => ({ type: 'm.room.message', event_id: id, sender: '@x:stub', origin_server_ts: 1, content: { body } });
/** The first /sync gets `first`; later ones are long polls that never end. */
const firstThenHang = (first: StubReply) => (req: { path: string; n: number }): StubReply => (req.path === SYNC && req.n === 0 ? first : 'hang');

describe('fake arrays and malformed events', () => {
  it('a to_device list that is an object with length 1e15: no hang; a typed InvalidResponseError, retried with backoff, and stop() resolves', async () => {
    const srv = await serve(() => ({ body: { next_batch: 't1', to_device: { events: { length: 1e15 } } } }));
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start({ backoffBaseMs: 5, backoffMaxMs: 10 });
    await until('two failures', () => rec.errors.length >= 2);
    await s.sync.stop();
    expect(rec.errors[0][0]).toBeInstanceOf(InvalidResponseError);
    expect((rec.errors[0][0] as Error).message).toMatch(/to_device\.events is not an array/);
    expect(rec.errors[0][1]).toMatchObject({ source: 'sync' });
    expect(rec.states.at(-1)).toBe('STOPPED');
    await expect(s.sync.once()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('fake arrays inside rooms (timeline, state, ephemeral, invite_state, account data) are left out and reported; the rest is delivered', async () => {
    const fake = { length: 1e15 };
    const srv = await serve(
      firstThenHang({
        body: {
          next_batch: 't1',
          rooms: {
            join: {
              '!fake:stub': { timeline: { events: fake }, state: { events: fake }, ephemeral: { events: fake }, account_data: { events: fake } },
              [ROOM]: { timeline: { events: [message('kept', '$1')] } },
            },
            invite: { '!inv:stub': { invite_state: { events: fake } } },
            leave: { '!gone:stub': { timeline: { events: fake } }, '!str:stub': { timeline: 'nope' } },
            knock: { '!knock:stub': { knock_state: { events: fake } } },
          },
        },
      }),
    );
    const s = session(srv.url);
    const rec = record(s);
    const invites: unknown[] = [];
    s.on('room.invite', (_r, ev, state) => void invites.push(ev, state));
    await s.sync.start();
    await until('the next long poll', () => srv.count(SYNC) >= 2);
    expect(rec.messages).toEqual(['kept']);
    expect(invites).toEqual([undefined, []]);
    const where = rec.errors.map(([, i]) => `${i.source} ${i.section} ${i.roomId}`).sort();
    expect(where).toEqual(
      [
        'malformed timeline !fake:stub',
        'malformed state !fake:stub',
        'malformed ephemeral !fake:stub',
        'malformed account_data !fake:stub',
        'malformed invite_state !inv:stub',
        'malformed timeline !gone:stub',
        'malformed timeline !str:stub',
        'malformed knock_state !knock:stub',
      ].sort(),
    );
    expect(s.sync.running).toBe(true);
  });

  it('a null in a timeline: skipped and reported once (source malformed, room, section); its valid neighbour is delivered and the loop keeps running', async () => {
    const srv = await serve(
      firstThenHang({ body: { next_batch: 't1', rooms: { join: { [ROOM]: { timeline: { events: [null, message('ok', '$2'), 7, { type: 5 }] } } } } } }),
    );
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start();
    await until('the next long poll', () => srv.count(SYNC) >= 2);
    expect(rec.messages).toEqual(['ok']);
    expect(rec.errors).toHaveLength(1);
    const [error, info] = rec.errors[0];
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as Error).message).toMatch(/3 malformed item\(s\) in timeline of !room:stub/);
    expect(info).toEqual({ source: 'malformed', roomId: ROOM, section: 'timeline', retryInMs: undefined, failures: 0 });
    expect(srv.requests[1].query.get('since')).toBe('t1');
    expect(s.sync.running).toBe(true);
    expect(rec.states).toEqual(['PREPARED']);
  });

  it('a body full of malformed rooms is reported in at most ten sync.error events, not one per item', async () => {
    const join: Record<string, unknown> = {};
    for (let i = 0; i < 500; i++) join[`!r${i}:stub`] = { timeline: { events: [null] } };
    const srv = await serve(firstThenHang({ body: { next_batch: 't1', rooms: { join } } }));
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start();
    await until('the next long poll', () => srv.count(SYNC) >= 2);
    expect(rec.errors).toHaveLength(10);
    expect(rec.errors.at(-1)![1]).toMatchObject({ source: 'malformed', section: '*' });
    expect((rec.errors.at(-1)![0] as Error).message).toMatch(/491 more malformed item\(s\) in 491 more places/);
  });

  it.each([
    ['rooms is a string', { next_batch: 't', rooms: 'evil' }, /rooms is not an object/],
    ['rooms.join is an array', { next_batch: 't', rooms: { join: [] } }, /rooms\.join is not an object/],
    ['next_batch is a number', { next_batch: 5 }, /next_batch is not a token/],
    ['presence.events is an object', { next_batch: 't', presence: { events: {} } }, /presence\.events is not an array/],
    ['device_lists.changed is a string', { next_batch: 't', device_lists: { changed: 'x' } }, /device_lists\.changed/],
  ])('sync.once(): %s → InvalidResponseError, nothing returned as is', async (_what, body, reason) => {
    const srv = await serve(() => ({ body }));
    const error = await session(srv.url).sync.once().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as Error).message).toMatch(reason);
  });

  it('the loop treats a malformed top level like a proxy error page: RECONNECTING, probe, and it resumes once the body is right', async () => {
    const srv = await serve((req) =>
      req.path !== SYNC ? { status: 404 } : req.n === 0 ? { body: { next_batch: 't', rooms: 'evil' } } : req.n === 1 ? { body: { next_batch: 't1' } } : 'hang',
    );
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start({ backoffBaseMs: 1, backoffMaxMs: 2 });
    await until('PREPARED', () => rec.states.includes('PREPARED'));
    expect(rec.states.slice(0, 2)).toEqual(['RECONNECTING', 'PREPARED']);
    expect(rec.errors.map(([e, i]) => [(e as Error).name, i.source])).toEqual([['InvalidResponseError', 'sync']]);
  });
});

describe('delays a timer cannot hold', () => {
  const limitedBy = (reply: StubReply) => (req: { path: string }): StubReply => (req.path === SYNC ? reply : { status: 404 });

  it.each([
    ['retry_after_ms: 1e12', { status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 1e12 } }],
    ['Retry-After: 3000000', { status: 429, body: { errcode: 'M_LIMIT_EXCEEDED' }, headers: { 'Retry-After': '3000000' } }],
    ['Retry-After: 999999', { status: 429, body: { errcode: 'M_LIMIT_EXCEEDED' }, headers: { 'Retry-After': '999999' } }],
  ])('a 429 asking %s waits maxRateLimitWaitMs, then tries again: no flood, each wait reported with the delay used', async (_what, reply) => {
    const srv = await serve(limitedBy(reply as StubReply));
    const s = session(srv.url, { maxRateLimitWaitMs: 100 });
    const rec = record(s);
    const started = Date.now();
    await s.sync.start({ backoffBaseMs: 10, backoffMaxMs: 20 });
    await until('three requests', () => srv.count(SYNC) >= 3);
    await s.sync.stop();
    const window = Date.now() - started;
    // At most one request per 100 ms wait in the window, plus the first: a 1 ms timer would make hundreds.
    expect(srv.count(SYNC)).toBeLessThanOrEqual(Math.floor(window / 100) + 2);
    expect(rec.limited.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rec.limited)).toEqual(new Set([100]));
    expect(rec.errors.every(([e, i]) => e instanceof MatrixError && i.source === 'sync' && i.retryInMs === 100)).toBe(true);
    expect(rec.states).toEqual(['STOPPED']); // waiting out a 429 is not a failure
  });

  it('never hands setTimeout more than 2^31-1 ms: with maxRateLimitWaitMs at that ceiling a 1e12 wait is one long wait, ended by stop()', async () => {
    const srv = await serve(limitedBy({ status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 1e12 } }));
    const s = session(srv.url, { maxRateLimitWaitMs: MAX_TIMER_MS });
    const rec = record(s);
    const delays: number[] = [];
    const real = global.setTimeout;
    jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return real(fn, ms);
    }) as typeof setTimeout);
    await s.sync.start();
    await until('the wait', () => rec.limited.length === 1);
    await new Promise((r) => real(r, 50)); // a 1 ms timer would have fired many times by now
    await s.sync.stop();
    expect(srv.count(SYNC)).toBe(1);
    expect(rec.limited).toEqual([MAX_TIMER_MS]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
  });

  it('a server that keeps answering 429 with no wait is slowed down: from the second 429 in a row the loop waits its backoff', async () => {
    const srv = await serve(limitedBy({ status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 0 } }));
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start({ backoffBaseMs: 40, backoffMaxMs: 80 });
    await until('four waits', () => rec.limited.length >= 4);
    await s.sync.stop();
    expect(rec.limited[0]).toBe(0);
    for (const d of rec.limited.slice(1)) expect(d).toBeGreaterThanOrEqual(20); // half the base, at least
  });

  it('a 503 with a server delay (MatrixError.retryAfterMs) waits that delay, capped at maxRateLimitWaitMs, instead of the backoff', async () => {
    const srv = await serve((req) => (req.path === SYNC && req.n === 0 ? { body: { next_batch: 't1' } } : 'hang'));
    const s = session(srv.url, { maxRateLimitWaitMs: 150 });
    const rec = record(s);
    const request = RequestCore.prototype.request;
    let calls = 0;
    jest.spyOn(RequestCore.prototype, 'request').mockImplementation(function (this: RequestCore, spec, options) {
      calls++;
      if (spec.path === SYNC && calls === 1) return Promise.reject(new MatrixError({ method: 'GET', path: SYNC }, 503, { errcode: 'M_UNKNOWN' }, 40));
      if (spec.path === SYNC && calls === 4) return Promise.reject(new MatrixError({ method: 'GET', path: SYNC }, 503, { errcode: 'M_UNKNOWN' }, 9e15));
      return request.call(this, spec, options) as never;
    });
    // With the backoff the waits would be 30–60 s.
    await s.sync.start({ backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    await until('the long poll after the second 503', () => srv.count(SYNC) >= 2);
    expect(rec.errors.map(([, i]) => [i.source, i.retryInMs])).toEqual([
      ['sync', 40],
      ['sync', 150],
    ]);
    expect(rec.states).toEqual(['RECONNECTING', 'PREPARED', 'RECONNECTING']);
  });
});
