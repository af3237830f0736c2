// Where each room's delivery stopped: taken from a batch, confirmed after hooks, saved with the token.
import { confirmLastEvents, lastEventsOf, positionsOf } from '../../lib/sync/position';
import { MemorySyncStore, type StoredFilter, type SyncStore } from '../../lib/sync/store';
import type { SyncResponse } from '../../lib/types';

const ev = (id: string | undefined) => ({ type: 'm.room.message', event_id: id, sender: '@a:hs', origin_server_ts: 1, content: {} });
const batch = (join: Record<string, Array<string | undefined>>, leave: string[] = []): SyncResponse =>
  ({
    next_batch: 'n',
    rooms: {
      join: Object.fromEntries(Object.entries(join).map(([roomId, ids]) => [roomId, { timeline: { events: ids.map(ev) } }])),
      leave: Object.fromEntries(leave.map((roomId) => [roomId, { timeline: { events: [ev('$left')] } }])),
    },
  }) as SyncResponse;

/** A store written against the original four-method interface. */
class TokenOnlyStore implements SyncStore {
  tokens: string[] = [];
  getSyncToken() {
    return this.tokens.at(-1);
  }
  setSyncToken(token: string) {
    this.tokens.push(token);
  }
  getFilter(): StoredFilter | undefined {
    return undefined;
  }
  setFilter() {}
}

describe('lastEventsOf', () => {
  it("takes each joined room's last event with an ID, skips rooms without, and forgets left rooms", () => {
    const last = lastEventsOf(batch({ '!a:hs': ['$1', '$2'], '!b:hs': ['$3', undefined], '!c:hs': [] }, ['!d:hs']));
    expect([...last]).toEqual([
      ['!a:hs', '$2'],
      ['!b:hs', '$3'],
      ['!d:hs', null],
    ]);
    expect([...lastEventsOf({ next_batch: 'n' })]).toEqual([]);
  });
});

describe('confirmLastEvents (after a hook changed the timelines)', () => {
  it('keeps the server event when it is still delivered, even with older events added after it', () => {
    const body = batch({ '!a:hs': ['$1', '$2'] });
    const last = lastEventsOf(body);
    body.rooms!.join!['!a:hs'].timeline!.events.push(ev('$old-decrypted') as never);
    confirmLastEvents(body, last);
    expect(last.get('!a:hs')).toBe('$2');
  });

  it('falls back to the last event delivered when the hook replaced it with another ID, and adds no mark for a room the hook added', () => {
    const body = batch({ '!a:hs': ['$1', '$2'], '!b:hs': ['$3'] });
    const last = lastEventsOf(body);
    body.rooms!.join!['!a:hs'].timeline!.events[1] = ev('$2-replaced') as never;
    body.rooms!.join!['!b:hs'].timeline!.events = [ev(undefined) as never];
    body.rooms!.join!['!new:hs'] = { timeline: { events: [ev('$late') as never] } };
    delete body.rooms!.join!['!gone:hs'];
    confirmLastEvents(body, last);
    expect([...last]).toEqual([['!a:hs', '$2-replaced']]);
  });

  it('forgets nothing for left rooms and drops a room whose timeline the hook removed', () => {
    const body = batch({ '!a:hs': ['$1'] }, ['!d:hs']);
    const last = lastEventsOf(body);
    delete body.rooms!.join!['!a:hs'].timeline;
    confirmLastEvents(body, last);
    expect([...last]).toEqual([['!d:hs', null]]);
  });
});

describe('positionsOf', () => {
  it('uses the store itself when it keeps the last events', async () => {
    const store = new MemorySyncStore();
    const memory = new Map<string, string>();
    const p = positionsOf(store, memory);
    await p.save('t1', new Map([['!a:hs', '$1']]));
    expect(store.getSyncToken()).toBe('t1');
    expect(await p.lastEventId('!a:hs')).toBe('$1');
    expect(memory.size).toBe(0);
  });

  it('a four-method store: the token goes to the store, the last events are remembered in memory', async () => {
    const store = new TokenOnlyStore();
    const memory = new Map<string, string>();
    const p = positionsOf(store, memory);
    await p.save('t1', new Map([['!a:hs', '$1'], ['!b:hs', '$2']]));
    await p.save('t2', new Map([['!b:hs', null]]));
    expect(store.tokens).toEqual(['t1', 't2']);
    expect(await p.lastEventId('!a:hs')).toBe('$1');
    expect(await p.lastEventId('!b:hs')).toBeUndefined();
  });

  it('a four-method store whose token write fails: the last events are not taken either', async () => {
    const store = new TokenOnlyStore();
    store.setSyncToken = () => {
      throw new Error('disk full');
    };
    const memory = new Map<string, string>();
    await expect(positionsOf(store, memory).save('t1', new Map([['!a:hs', '$1']]))).rejects.toThrow('disk full');
    expect(memory.size).toBe(0);
  });
});
