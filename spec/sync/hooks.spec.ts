// The loop's batch pipeline with fake hooks (the ones end-to-end encryption sets): the order of
// the steps, failures that must not lose the batch, and what a hook may change.
import { MatrixSession, type ClientEvent, type SyncErrorInfo } from '../../lib';
import * as guard from '../../lib/sync/guard';
import { setSyncHooks, type SyncHooks } from '../../lib/sync/hooks';
import { MemorySyncStore } from '../../lib/sync/store';
import type { SyncResponse } from '../../lib/types';
import { until, useSyncStub, type StubReply, type SyncStub } from '../helpers/sync-stub';

const ME = '@me:stub';
const ROOM = '!room:stub';
const OTHER = '!other:stub';
const SYNC = '/_matrix/client/v3/sync';

const stubbed = useSyncStub(ME);
const { session } = stubbed;

const ev = (n: number, type = 'm.room.message') => ({ type, event_id: `$${n}`, sender: '@x:stub', origin_server_ts: n, content: { body: `m${n}` } });
const batch = (next: string, events: Array<Record<string, unknown>>, limited = false) => ({
  next_batch: next,
  to_device: { events: [{ type: 'm.room.encrypted', sender: '@x:stub', content: {} }] },
  rooms: { join: { [ROOM]: { timeline: { events, ...(limited ? { limited: true, prev_batch: 'p' } : {}) } } } },
});

function serve(batches: unknown[], messages: StubReply = { body: { start: 'p', chunk: [] } }): Promise<SyncStub> {
  return stubbed.serve((req) => {
    if (req.path === SYNC) return req.n < batches.length ? { body: batches[req.n] } : 'hang';
    if (req.path.endsWith('/messages')) return messages;
    return { status: 404 };
  });
}

class LoggingStore extends MemorySyncStore {
  constructor(private readonly log: string[]) {
    super();
  }
  override setSyncPosition(token: string, last: ReadonlyMap<string, string | null>): void {
    this.log.push(`save ${token}`);
    super.setSyncPosition(token, last);
  }
}

function errorsOf(s: MatrixSession): Array<[unknown, SyncErrorInfo]> {
  const errors: Array<[unknown, SyncErrorInfo]> = [];
  s.on('sync.error', (e, info) => void errors.push([e, info]));
  return errors;
}

describe('the batch pipeline', () => {
  it('runs guard → receive → gap fill → prepare → listeners → save → done, each with the same body', async () => {
    const srv = await serve([batch('t1', [ev(1)]), batch('t2', [ev(5)], true)], { body: { start: 'p', chunk: [ev(4), ev(3), ev(2), ev(1)] } });
    const s = session(srv.url);
    const log: string[] = [];
    const bodies = new Set<SyncResponse>();
    const hooks: SyncHooks = {
      async receive(body, signal) {
        bodies.add(body);
        expect(signal).toBeInstanceOf(AbortSignal);
        log.push(`receive ${body.next_batch} to_device=${body.to_device!.events.length} timeline=${body.rooms!.join![ROOM].timeline!.events.length}`);
      },
      async prepare(body) {
        bodies.add(body);
        log.push(`prepare ${body.next_batch} timeline=${body.rooms!.join![ROOM].timeline!.events.length}`);
      },
      done(body) {
        bodies.add(body);
        log.push(`done ${body.next_batch}`);
      },
    };
    setSyncHooks(s.sync, hooks);
    s.on('room.message', (_r, e) => void log.push(`listener ${e.event_id}`));
    s.on('to_device', () => void log.push('to_device'));
    await s.sync.start({ store: new LoggingStore(log) });
    await until('the second batch done', () => log.includes('done t2'));
    expect(log).toEqual([
      'receive t1 to_device=1 timeline=1',
      'prepare t1 timeline=1',
      'to_device',
      'listener $1',
      'save t1',
      'done t1',
      'receive t2 to_device=1 timeline=1', // before the gap is filled
      'prepare t2 timeline=4', // after: $2 $3 $4 $5
      'to_device',
      'listener $2',
      'listener $3',
      'listener $4',
      'listener $5',
      'save t2',
      'done t2',
    ]);
    expect(bodies.size).toBe(2);
  });

  it('a failing receive or prepare fails the batch (reported, source crypto): nothing delivered or saved, the same batch fetched again; a failing done is reported and the loop goes on', async () => {
    // The server answers the same position with the same batch, as Synapse does.
    const srv = await stubbed.serve((req) => {
      if (req.path !== SYNC) return { status: 404 };
      const since = req.query.get('since');
      if (since === null) return { body: batch('t1', [ev(1)]) };
      if (since === 't1') return { body: batch('t2', [ev(2)]) };
      return 'hang';
    });
    const s = session(srv.url);
    const errors = errorsOf(s);
    const store = new MemorySyncStore();
    const delivered: string[] = [];
    s.on('room.message', (_r, e) => void delivered.push(e.event_id));
    let receiveFailures = 1;
    let prepareFailures = 1;
    setSyncHooks(s.sync, {
      receive: () => (receiveFailures-- > 0 ? Promise.reject(new Error('receive failed')) : Promise.resolve()),
      prepare: () => {
        if (prepareFailures-- > 0) throw new Error('prepare threw');
        return Promise.resolve();
      },
      done: (body) => {
        if (body.next_batch === 't1') throw new Error('done threw');
        return Promise.reject(new Error('done rejected')) as unknown as void;
      },
    });
    await s.sync.start({ store, backoffBaseMs: 1, backoffMaxMs: 2 });
    await until('two batches', () => delivered.length >= 2 && errors.length >= 4);
    // t1 was asked for three times (two failed attempts), each time from the start.
    expect(srv.requests.filter((r) => r.path === SYNC).slice(0, 3).map((r) => r.query.get('since'))).toEqual([null, null, null]);
    expect(delivered).toEqual(['$1', '$2']);
    expect(store.getSyncToken()).toBe('t2');
    expect(errors.map(([e, i]) => [(e as Error).message, i.source, i.event])).toEqual([
      ['receive failed', 'crypto', undefined],
      ['prepare threw', 'crypto', undefined],
      ['done threw', 'crypto', 'done'],
      ['done rejected', 'crypto', 'done'],
    ]);
    expect(errors.slice(0, 2).every(([, i]) => typeof i.retryInMs === 'number')).toBe(true);
    expect(s.sync.running).toBe(true);
  });

  it('prepare may replace events in place and add older ones, to rooms in the batch or not: all delivered with room_id; the marks stay on the live edge', async () => {
    const srv = await serve([batch('t1', [ev(1, 'm.room.encrypted'), ev(2)])]);
    const s = session(srv.url);
    const errors = errorsOf(s);
    const store = new MemorySyncStore();
    const delivered: Array<[string, string, string | undefined, string]> = [];
    s.on('room.event', (roomId, e) => void delivered.push([roomId, e.event_id, e.room_id, e.type]));
    setSyncHooks(s.sync, {
      async prepare(body) {
        const timeline = body.rooms!.join![ROOM].timeline!.events;
        timeline[0] = { ...timeline[0], type: 'm.room.message', content: { body: 'decrypted' } }; // in place
        timeline.unshift({ ...ev(0), content: { body: 'late' } } as unknown as ClientEvent); // an older event decrypted only now
        body.rooms!.join![OTHER] = { timeline: { events: [ev(90) as unknown as ClientEvent, null as unknown as ClientEvent] } }; // a room not in the batch
      },
    });
    await s.sync.start({ store, waitForFirstBatch: true });
    expect(delivered).toEqual([
      [ROOM, '$0', ROOM, 'm.room.message'],
      [ROOM, '$1', ROOM, 'm.room.message'],
      [ROOM, '$2', ROOM, 'm.room.message'],
      [OTHER, '$90', OTHER, 'm.room.message'],
    ]);
    expect(store.getLastEventId(ROOM)).toBe('$2');
    expect(store.getLastEventId(OTHER)).toBeUndefined();
    // What the hook added is checked like the server's body: its malformed item is reported.
    expect(errors.map(([, i]) => [i.source, i.roomId, i.section])).toEqual([['malformed', OTHER, 'timeline']]);
  });

  it('stop() while a hook hangs: stop resolves at once, the batch is neither delivered nor saved', async () => {
    const srv = await serve([batch('t1', [ev(1)])]);
    const s = session(srv.url);
    const store = new MemorySyncStore();
    const delivered: string[] = [];
    s.on('room.message', (_r, e) => void delivered.push(e.event_id));
    let entered = false;
    setSyncHooks(s.sync, {
      receive: () => {
        entered = true;
        return new Promise<void>(() => undefined);
      },
    });
    await s.sync.start({ store });
    await until('the hook', () => entered);
    await s.sync.stop();
    expect(delivered).toEqual([]);
    expect(store.getSyncToken()).toBeUndefined();
  });

  it('a batch is checked again after prepare unless the hook says it changed nothing (false)', async () => {
    const walks = jest.spyOn(guard, 'guardSync');
    for (const [answer, expected] of [[false, 1], [true, 2], [undefined, 2]] as const) {
      walks.mockClear();
      const srv = await serve([batch('t1', [ev(1)])]);
      const s = session(srv.url);
      const delivered: string[] = [];
      s.on('room.message', (_r, e) => void delivered.push(e.event_id));
      setSyncHooks(s.sync, { prepare: async () => answer });
      await s.sync.start();
      await until('delivered', () => delivered.length > 0);
      await s.sync.stop();
      expect([answer, walks.mock.calls.length]).toEqual([answer, expected]);
    }
  });

  it('hooks can be removed, and are only set on a session.sync', async () => {
    const srv = await serve([batch('t1', [ev(1)]), batch('t2', [ev(2)])]);
    const s = session(srv.url);
    const seen: string[] = [];
    setSyncHooks(s.sync, { done: (b) => void seen.push(b.next_batch) });
    await s.sync.start({ waitForFirstBatch: true });
    setSyncHooks(s.sync, undefined);
    await until('the second batch', () => srv.count(SYNC) >= 3);
    expect(seen).toEqual(['t1']);
    expect(() => setSyncHooks({}, {})).toThrow(TypeError);
    expect(() => setSyncHooks(s.sync, 5 as never)).toThrow(TypeError);
  });
});
