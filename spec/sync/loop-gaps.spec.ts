// Gap filling, room.gap, room.timeline, room_id and prepared() through the running loop, against a
// local stub homeserver (node:http on 127.0.0.1) whose /sync and /messages the tests script.
import { MatrixSession, ValidationError, type ClientEvent, type RoomGap, type RoomTimeline, type SyncErrorInfo, type SyncItem } from '../../lib';
import { MemorySyncStore, type StoredFilter, type SyncStore } from '../../lib/sync/store';
import { until, useSyncStub, type StubReply, type StubRequest, type SyncStub } from '../helpers/sync-stub';

const ME = '@me:stub';
const ROOM = '!room:stub';
const SYNC = '/_matrix/client/v3/sync';
const MESSAGES = `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/messages`;

const stubbed = useSyncStub(ME);
const { session } = stubbed;

const ev = (n: number, extra: Record<string, unknown> = {}) => ({
  type: 'm.room.message',
  event_id: `$${n}`,
  sender: '@x:stub',
  origin_server_ts: n,
  content: { msgtype: 'm.text', body: `m${n}` },
  ...extra,
});
const span = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const bodies = (from: number, to: number): string[] => span(from, to).map((n) => `m${n}`);

/** A batch with one joined room; `limited` gives it prev_batch p<first>. */
function batch(next: string, events: number[], limited = false, roomId = ROOM): Record<string, unknown> {
  return {
    next_batch: next,
    rooms: { join: { [roomId]: { timeline: { events: events.map((n) => ev(n)), ...(limited ? { limited: true, prev_batch: `p${events[0]}` } : {}) } } } },
  };
}

/** A history of events 1..last, paged back like Synapse: token p<k> = before event k. */
function page(req: StubRequest, last: number): StubReply {
  const before = Number(req.query.get('from')!.slice(1));
  const limit = Number(req.query.get('limit'));
  const chunk = [];
  for (let k = Math.min(before - 1, last); k >= 1 && chunk.length < limit; k--) chunk.push(ev(k));
  const oldest = before - limit;
  return { body: oldest > 1 ? { start: `p${before}`, end: `p${oldest}`, chunk } : { start: `p${before}`, chunk } };
}

/** /sync answers `batches` in turn, then holds the long poll; /messages pages a history of 1..last. */
function serve(batches: Array<Record<string, unknown>>, last = 1000, messages?: (req: StubRequest) => StubReply): Promise<SyncStub> {
  return stubbed.serve((req) => {
    if (req.path === SYNC) return req.n < batches.length ? { body: batches[req.n] } : 'hang';
    if (req.path.endsWith('/messages')) return messages ? messages(req) : page(req, last);
    if (req.path.endsWith('/filter')) return { body: { filter_id: 'f1' } };
    return { status: 404, body: { errcode: 'M_UNRECOGNIZED' } };
  });
}

function record(s: MatrixSession) {
  const log: string[] = [];
  const gaps: RoomGap[] = [];
  const timelines: RoomTimeline[] = [];
  const events: ClientEvent[] = [];
  const errors: Array<[unknown, SyncErrorInfo]> = [];
  s.on('room.gap', (gap) => {
    gaps.push(gap);
    log.push(`gap ${gap.roomId} ${gap.reason}`);
  });
  s.on('room.timeline', (t) => void timelines.push(t));
  s.on('room.message', (_roomId, e) => {
    events.push(e);
    log.push(String(e.content.body));
  });
  s.on('sync.error', (e, info) => void errors.push([e, info]));
  return { log, gaps, timelines, events, errors, messages: () => events.map((e) => String(e.content.body)) };
}

class SpyStore extends MemorySyncStore {
  saved: Array<[string, Array<[string, string | null]>]> = [];
  override setSyncPosition(token: string, last: ReadonlyMap<string, string | null>): void {
    this.saved.push([token, [...last]]);
    super.setSyncPosition(token, last);
  }
}

/** A store written against the original four-method interface. */
class TokenOnlyStore implements SyncStore {
  token?: string;
  getSyncToken() {
    return this.token;
  }
  setSyncToken(token: string) {
    this.token = token;
  }
  getFilter(): StoredFilter | undefined {
    return undefined;
  }
  setFilter() {}
}

describe('the loop fills gaps', () => {
  it('pages /messages back from prev_batch to the last event it delivered and hands the missing events over first, in order, once', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', span(250, 260), true)], 260);
    const s = session(srv.url);
    const rec = record(s);
    const store = new SpyStore();
    await s.sync.start({ store, filter: 'f1' });
    await until('the long poll after the gap', () => srv.count(SYNC) >= 3);
    expect(rec.messages()).toEqual(bodies(1, 260));
    expect(rec.events.every((e) => e.room_id === ROOM)).toBe(true);
    expect(rec.gaps).toEqual([]);
    const asked = srv.requests.filter((r) => r.path === MESSAGES).map((r) => Object.fromEntries(r.query));
    expect(asked).toEqual([
      { from: 'p250', dir: 'b', limit: '100' },
      { from: 'p150', dir: 'b', limit: '100' },
      { from: 'p50', dir: 'b', limit: '100' },
    ]);
    expect(rec.timelines[1]).toMatchObject({ roomId: ROOM, limited: false, membership: 'join' });
    expect(rec.timelines[1].events).toHaveLength(259);
    expect(store.saved).toEqual([
      ['t1', [[ROOM, '$1']]],
      ['t2', [[ROOM, '$260']]],
    ]);
    expect(rec.errors).toEqual([]);
  });

  it('pages with the timeline part of the sync filter (without its limit), so a gap holds the same kinds of events', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [5, 6], true)], 6);
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start({ filter: { room: { timeline: { limit: 2, types: ['m.room.message'] } } } });
    await until('the filled batch', () => rec.messages().includes('m6'));
    const asked = srv.requests.find((r) => r.path === MESSAGES)!;
    expect(JSON.parse(asked.query.get('filter')!)).toEqual({ types: ['m.room.message'] });
    expect(srv.requests.find((r) => r.path === SYNC)!.query.get('filter')).toBe('f1');
  });

  it('saves the position only after the listeners of the filled batch have settled', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [20], true)], 20);
    const s = session(srv.url);
    const store = new SpyStore();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    s.on('room.message', (_r, e) => {
      seen.push(String(e.content.body));
      return e.content.body === 'm10' ? slow : undefined;
    });
    await s.sync.start({ store });
    await until('the filled batch', () => seen.length === 20);
    await new Promise((r) => setTimeout(r, 30));
    expect(store.saved.map(([t]) => t)).toEqual(['t1']);
    release();
    await until('saved', () => store.saved.length === 2);
    expect(store.saved[1]).toEqual(['t2', [[ROOM, '$20']]]);
  });

  it('the first batch of a run: room.gap (unknown_position) before the room timeline, nothing fetched; the next gap is filled', async () => {
    const srv = await serve([batch('t1', [9, 10], true), batch('t2', [30], true)], 30);
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start();
    await until('the second batch', () => rec.messages().includes('m30'));
    expect(rec.log.slice(0, 3)).toEqual([`gap ${ROOM} unknown_position`, 'm9', 'm10']);
    expect(rec.gaps).toEqual([{ roomId: ROOM, prevBatch: 'p9', reason: 'unknown_position', filled: 0 }]);
    expect(rec.messages()).toEqual(bodies(9, 30));
    expect(srv.requests.filter((r) => r.path === MESSAGES)[0].query.get('from')).toBe('p30');
  });

  it('fillGaps: false fetches nothing; room.gap (disabled), room.timeline and sync.events() items show limited and prevBatch', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [8, 9], true)]);
    const s = session(srv.url);
    const rec = record(s);
    const items: SyncItem[] = [];
    const stream = s.sync.events({ kinds: ['timeline'] });
    const consuming = (async () => {
      for await (const item of stream) items.push(item);
    })();
    await s.sync.start({ fillGaps: false });
    await until('the second batch', () => items.length === 3);
    await s.sync.stop();
    await consuming;
    expect(srv.count('/messages')).toBe(0);
    expect(rec.gaps).toEqual([{ roomId: ROOM, prevBatch: 'p8', reason: 'disabled', filled: 0 }]);
    expect(rec.timelines.map((t) => [t.limited, t.prevBatch])).toEqual([
      [false, undefined],
      [true, 'p8'],
    ]);
    expect(items.map((i) => (i.kind === 'timeline' ? [i.event.event_id, i.event.room_id, i.limited, i.prevBatch] : i.kind))).toEqual([
      ['$1', ROOM, false, undefined],
      ['$8', ROOM, true, 'p8'],
      ['$9', ROOM, true, 'p8'],
    ]);
  });

  it('past maxGapFill: the newest events of the gap are delivered, then room.gap (limit) says where the rest is', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [500], true)], 500);
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start({ maxGapFill: 150 });
    await until('the second batch', () => rec.messages().includes('m500'));
    expect(rec.messages()).toEqual(['m1', ...bodies(350, 500)]);
    expect(rec.gaps).toEqual([{ roomId: ROOM, prevBatch: 'p350', reason: 'limit', filled: 150 }]);
    expect(rec.timelines[1]).toMatchObject({ limited: true, prevBatch: 'p350' });
  });

  it('a /messages the server refuses: room.gap (error) and sync.error (source gap); the batch is delivered and saved, the loop goes on', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [50], true)], 50, () => ({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'no' } }));
    const s = session(srv.url);
    const rec = record(s);
    const store = new SpyStore();
    await s.sync.start({ store });
    await until('the long poll after it', () => srv.count(SYNC) >= 3);
    expect(rec.messages()).toEqual(['m1', 'm50']);
    expect(rec.gaps).toMatchObject([{ roomId: ROOM, prevBatch: 'p50', reason: 'error', filled: 0, error: { errcode: 'M_FORBIDDEN' } }]);
    expect(rec.errors.map(([e, i]) => [(e as { errcode?: string }).errcode, i.source, i.roomId])).toEqual([['M_FORBIDDEN', 'gap', ROOM]]);
    expect(store.saved.map(([t]) => t)).toEqual(['t1', 't2']);
  });

  it('stop() while a gap is being fetched: stop resolves, nothing of the batch is delivered or saved, the next run gets it again', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [50], true)], 50, () => 'hang');
    const s = session(srv.url);
    const rec = record(s);
    const store = new SpyStore();
    await s.sync.start({ store });
    await until('the gap request', () => srv.count('/messages') === 1);
    await s.sync.stop();
    expect(rec.messages()).toEqual(['m1']);
    expect(store.saved.map(([t]) => t)).toEqual(['t1']);
    expect(store.getSyncToken()).toBe('t1');
  });

  it('a store of the original four methods: gaps are filled within the process; a new process reports them (unknown_position)', async () => {
    const srv = await serve([batch('t1', [1]), batch('t2', [30], true)], 30);
    const store = new TokenOnlyStore();
    const s = session(srv.url);
    const rec = record(s);
    await s.sync.start({ store });
    await until('the filled batch', () => rec.messages().includes('m30'));
    expect(rec.messages()).toEqual(bodies(1, 30));
    await s.sync.stop();
    expect(store.token).toBe('t2');

    // The same store after a restart (a new engine): nothing says where the room stopped.
    const srv2 = await serve([batch('t3', [60], true)], 60);
    const s2 = session(srv2.url);
    const rec2 = record(s2);
    await s2.sync.start({ store });
    await until('the batch', () => rec2.messages().includes('m60'));
    expect(rec2.gaps).toEqual([{ roomId: ROOM, prevBatch: 'p60', reason: 'unknown_position', filled: 0 }]);
    expect(srv2.count('/messages')).toBe(0);
    expect(srv2.requests[0].query.get('since')).toBe('t2');
  });

  it('a left room is forgotten: a rejoin later is not filled across the time away', async () => {
    const leave = { next_batch: 't2', rooms: { leave: { [ROOM]: { timeline: { events: [ev(5)] } } } } };
    const srv = await serve([batch('t1', [1]), leave, batch('t3', [90], true)], 90);
    const s = session(srv.url);
    const rec = record(s);
    const store = new SpyStore();
    await s.sync.start({ store });
    await until('the third batch', () => rec.messages().includes('m90'));
    expect(store.saved[1]).toEqual(['t2', [[ROOM, null]]]);
    expect(rec.gaps).toMatchObject([{ reason: 'unknown_position' }]);
    expect(srv.count('/messages')).toBe(0);
  });
});

describe('events carry their room_id', () => {
  it('timeline and state events on listeners and sync.events() items: rooms.reply and rooms.react take them as they are', async () => {
    const state = { type: 'm.room.topic', state_key: '', event_id: '$s', sender: '@x:stub', origin_server_ts: 1, content: { topic: 't' } };
    const first = { next_batch: 't1', rooms: { join: { [ROOM]: { state: { events: [state] }, timeline: { events: [ev(1)] } } } } };
    const replies: string[] = [];
    const stub = await stubbed.serve((req) => {
      if (req.path === SYNC) return req.n === 0 ? { body: first } : 'hang';
      if (req.path.includes('/send/')) {
        replies.push(req.path);
        return { body: { event_id: `$r${replies.length}` } };
      }
      // The room is not encrypted: no m.room.encryption state, as Synapse answers it.
      return { status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Event not found' } };
    });
    const s = session(stub.url);
    const states: ClientEvent[] = [];
    const items: SyncItem[] = [];
    s.on('room.state', (_r, e) => void states.push(e));
    const replied: Array<Promise<unknown>> = [];
    s.on('room.message', (_roomId, event) => {
      replied.push(s.rooms.reply(event, 'pong'), s.rooms.react(event, '👍'));
    });
    const stream = s.sync.events();
    const consuming = (async () => {
      for await (const item of stream) items.push(item);
    })();
    await s.sync.start({ waitForFirstBatch: true });
    await Promise.all(replied);
    await s.sync.stop();
    await consuming;
    expect(states.map((e) => e.room_id)).toEqual([ROOM]);
    expect(items.map((i) => [i.kind, (i.event as ClientEvent).room_id])).toEqual([
      ['state', ROOM],
      ['timeline', ROOM],
    ]);
    expect(replies.map((p) => p.split('/send/')[0])).toEqual([`/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}`, `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}`]);
  });
});

describe('waiting for the first batch', () => {
  it('prepared() resolves once the first batch is handled; start({ waitForFirstBatch }) resolves then too', async () => {
    const srv = await serve([batch('t1', [1])]);
    const s = session(srv.url);
    const order: string[] = [];
    s.on('room.message', () => void order.push('listener'));
    s.on('sync', (st) => void order.push(st));
    await s.sync.start({ waitForFirstBatch: true });
    order.push('started');
    await s.sync.prepared();
    order.push('prepared');
    expect(order).toEqual(['listener', 'PREPARED', 'started', 'prepared']);
  });

  it('prepared() rejects when the loop is not running, or ends before a first batch (with the error that ended it)', async () => {
    const srv = await serve([]);
    const s = session(srv.url);
    await expect(s.sync.prepared()).rejects.toThrow(/not running/);

    await s.sync.start();
    const waiting = s.sync.prepared();
    await until('the long poll', () => srv.count(SYNC) === 1);
    await s.sync.stop();
    await expect(waiting).rejects.toThrow(/stopped before its first batch/);

    const refusing = await stubbed.serve(() => ({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN', error: 'gone' } }));
    const s2 = session(refusing.url);
    await expect(s2.sync.start({ waitForFirstBatch: true })).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
  });

  it('a run that is never asked for prepared() leaves no unhandled rejection', async () => {
    const srv = await serve([]);
    const s = session(srv.url);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      await s.sync.start();
      await until('the long poll', () => srv.count(SYNC) === 1);
      await s.sync.stop();
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});

describe('start options', () => {
  it('validates fillGaps, maxGapFill, waitForFirstBatch and the optional store methods', async () => {
    const s = new MatrixSession({ baseUrl: 'http://127.0.0.1:1', accessToken: 'tok', userId: ME });
    await expect(s.sync.start({ fillGaps: 'yes' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ maxGapFill: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ maxGapFill: 1.5 })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ waitForFirstBatch: 1 as never })).rejects.toBeInstanceOf(ValidationError);
    const half = Object.assign(new TokenOnlyStore(), { getLastEventId: () => undefined });
    await expect(s.sync.start({ store: half })).rejects.toThrow(/both getLastEventId and setSyncPosition/);
    expect(s.sync.running).toBe(false);
  });
});
