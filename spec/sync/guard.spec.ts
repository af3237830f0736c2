// guardSync on its own: what a /sync body must look like at the top, what is left out below.
import { InvalidResponseError } from '../../lib';
import { guardSync, isEvent } from '../../lib/sync/guard';
import type { SyncResponse } from '../../lib/types';

const msg = (id: string) => ({ type: 'm.room.message', event_id: id, sender: '@a:hs', origin_server_ts: 1, content: { body: id } });
const guard = (body: unknown) => guardSync(body as SyncResponse);
const thrown = (body: unknown): unknown => {
  try {
    guard(body);
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('guardSync: the top level', () => {
  it.each([
    ['an array', []],
    ['null', null],
    ['no next_batch', {}],
    ['an empty next_batch', { next_batch: '' }],
    ['a next_batch too long to send back', { next_batch: 'x'.repeat(4097) }],
    ['rooms: "evil"', { next_batch: 't', rooms: 'evil' }],
    ['rooms.leave a string', { next_batch: 't', rooms: { leave: 's' } }],
    ['rooms.invite an array', { next_batch: 't', rooms: { invite: [] } }],
    ['rooms.knock a number', { next_batch: 't', rooms: { knock: 1 } }],
    ['to_device a string', { next_batch: 't', to_device: 'x' }],
    ['to_device.events with a fake length', { next_batch: 't', to_device: { events: { length: 1e15 } } }],
    ['account_data.events a string', { next_batch: 't', account_data: { events: 'x' } }],
    ['device_lists an array', { next_batch: 't', device_lists: [] }],
    ['device_lists.left an object', { next_batch: 't', device_lists: { left: {} } }],
    ['device_one_time_keys_count an array', { next_batch: 't', device_one_time_keys_count: [] }],
    ['device_unused_fallback_key_types a string', { next_batch: 't', device_unused_fallback_key_types: 'x' }],
  ])('refuses %s with an InvalidResponseError', (_what, body) => {
    expect(thrown(body)).toBeInstanceOf(InvalidResponseError);
  });

  it('takes null sections as absent, and a clean body as it is (no copies, nothing reported)', () => {
    expect(guard({ next_batch: 't', rooms: null, to_device: null, presence: { events: null } })).toBeUndefined();
    const events = [msg('$1')];
    const presence = [{ type: 'm.presence', sender: '@a:hs', content: {} }];
    const body = { next_batch: 't', presence: { events: presence }, rooms: { join: { '!r:hs': { timeline: { events } } } } };
    expect(guard(body)).toBeUndefined();
    expect(body.rooms.join['!r:hs'].timeline.events).toBe(events);
    expect(body.presence.events).toBe(presence);
  });
});

describe('guardSync: inner items are left out and reported', () => {
  it('sets room_id on timeline, state and state_after events (overwriting a wrong one), not on ephemeral or account data', () => {
    const body = {
      next_batch: 't',
      rooms: {
        join: {
          '!r:hs': {
            timeline: { events: [{ ...msg('$1'), room_id: '!other:hs' }] },
            state: { events: [{ type: 'm.room.name', state_key: '', content: {} }] },
            state_after: { events: [{ type: 'm.room.topic', state_key: '', content: {} }] },
            ephemeral: { events: [{ type: 'm.typing', content: { user_ids: [] } }] },
            account_data: { events: [{ type: 'm.tag', content: {} }] },
          },
        },
        leave: { '!l:hs': { timeline: { events: [msg('$2')] } } },
      },
    };
    guard(body);
    const room = body.rooms.join['!r:hs'] as Record<string, { events: Array<Record<string, unknown>> }>;
    expect(room.timeline.events[0].room_id).toBe('!r:hs');
    expect(room.state.events[0].room_id).toBe('!r:hs');
    expect(room.state_after.events[0].room_id).toBe('!r:hs');
    expect(room.ephemeral.events[0].room_id).toBeUndefined();
    expect(room.account_data.events[0].room_id).toBeUndefined();
    expect((body.rooms.leave['!l:hs'].timeline.events[0] as Record<string, unknown>).room_id).toBe('!l:hs');
  });

  it('leaves out events that are not objects with a string type, keeping the order of the rest, one report per room and section', () => {
    const body = {
      next_batch: 't',
      to_device: { events: [null, { type: 'm.x', sender: '@a:hs', content: {} }, 'str'] },
      rooms: { join: { '!r:hs': { timeline: { events: [msg('$1'), null, [], { type: 1 }, msg('$2'), { content: {} }] } } } },
    };
    const found = guard(body);
    expect(found).toEqual([
      { section: 'to_device', count: 2 },
      { section: 'timeline', roomId: '!r:hs', count: 4 },
    ]);
    expect(body.rooms.join['!r:hs'].timeline.events.map((e) => (e as { event_id: string }).event_id)).toEqual(['$1', '$2']);
    expect(body.to_device.events).toHaveLength(1);
    expect(guard(body)).toBeUndefined(); // a second pass finds nothing new
  });

  it('drops rooms whose key is not a room ID or whose value is not an object; sections of the wrong shape', () => {
    const body = {
      next_batch: 't',
      rooms: {
        join: {
          'no-sigil': {},
          ['!' + 'x'.repeat(300)]: {},
          '!null:hs': null,
          '!ok:hs': { timeline: 'x', state: { events: { length: 3 } }, ephemeral: [], account_data: { events: [null] } },
        },
        invite: { '!i:hs': { invite_state: { events: [null, { type: 'm.room.name', state_key: '', sender: '@a:hs', content: {} }] } } },
      },
    };
    // A "__proto__" key as JSON.parse builds it: an own property, not the prototype.
    const parsed = JSON.parse(JSON.stringify(body).replace('"join":{', '"join":{"__proto__":{"timeline":{"events":[]}},'));
    expect(Object.keys(parsed.rooms.join)).toContain('__proto__');
    const found = guard(parsed);
    expect(Object.keys(parsed.rooms.join)).toEqual(['!ok:hs']);
    expect(found).toEqual(
      expect.arrayContaining([
        { section: 'rooms.join', count: 4 },
        { section: 'timeline', roomId: '!ok:hs', count: 1 },
        { section: 'state', roomId: '!ok:hs', count: 1 },
        { section: 'ephemeral', roomId: '!ok:hs', count: 1 },
        { section: 'account_data', roomId: '!ok:hs', count: 1 },
        { section: 'invite_state', roomId: '!i:hs', count: 1 },
      ]),
    );
    expect(parsed.rooms.join['!ok:hs'].state.events).toEqual([]);
    expect(parsed.rooms.invite['!i:hs'].invite_state.events).toHaveLength(1);
  });

  it('drops a prev_batch that is not a token, and keeps only well-formed device-list and key-count entries', () => {
    const body = {
      next_batch: 't',
      device_lists: { changed: ['@a:hs', 5, null], left: [] },
      device_one_time_keys_count: { signed_curve25519: 50, bad: 'x', neg: -1 },
      device_unused_fallback_key_types: ['signed_curve25519', {}],
      rooms: { join: { '!r:hs': { timeline: { events: [], limited: true, prev_batch: 42 } } } },
    };
    const found = guard(body);
    expect(body.device_lists.changed).toEqual(['@a:hs']);
    expect(body.device_one_time_keys_count).toEqual({ signed_curve25519: 50 });
    expect(body.device_unused_fallback_key_types).toEqual(['signed_curve25519']);
    expect('prev_batch' in body.rooms.join['!r:hs'].timeline).toBe(false);
    expect(found).toEqual([
      { section: 'device_lists.changed', count: 2 },
      { section: 'device_one_time_keys_count', count: 2 },
      { section: 'device_unused_fallback_key_types', count: 1 },
      { section: 'timeline.prev_batch', roomId: '!r:hs', count: 1 },
    ]);
  });
});

describe('isEvent', () => {
  it('is an object with a string type', () => {
    expect([null, undefined, 1, 'x', [], {}, { type: 1 }, { type: 'm.x' }].map(isEvent)).toEqual([false, false, false, false, false, false, false, true]);
  });
});
