import { MatrixSession } from '../../lib';
import { dispatchSync, type DispatchContext } from '../../lib/sync/dispatch';
import { SYNC_EVENT_NAMES, type SyncEvents } from '../../lib/sync/types';
import type { SyncResponse, SyncRoomEvent } from '../../lib/types';

const ME = '@me:hs.test';
const JOINED = '!joined:hs.test';
const NEWLY = '!newly:hs.test';
const LEFT = '!left:hs.test';
const INVITED = '!invited:hs.test';

// As on the wire: no room_id (the guard sets it before dispatch).
function ev(type: string, extra: Partial<SyncRoomEvent> = {}): SyncRoomEvent {
  return { type, event_id: `$${type}-${extra.state_key ?? ''}-${Math.random()}`, sender: '@bob:hs.test', origin_server_ts: 1, content: {}, ...extra } as SyncRoomEvent;
}

const createEv = ev('m.room.create', { state_key: '' });
const nameInState = ev('m.room.name', { state_key: '', content: { name: 'n' } });
const msg1 = ev('m.room.message', { content: { msgtype: 'm.text', body: 'one' } });
const topic = ev('m.room.topic', { state_key: '', content: { topic: 't' } });
const redaction = ev('m.room.redaction', { redacts: msg1.event_id });
const msg2 = ev('m.room.message', { content: { msgtype: 'm.text', body: 'two' } });
const profileChange = ev('m.room.member', {
  state_key: ME,
  content: { membership: 'join', displayname: 'new' },
  unsigned: { prev_content: { membership: 'join' } },
});
const typing = { type: 'm.typing', content: { user_ids: ['@bob:hs.test'] } };
const receipt = { type: 'm.receipt', content: { [msg1.event_id]: { 'm.read': { '@bob:hs.test': { ts: 1 } } } } };
const otherEphemeral = { type: 'org.example.unknown', content: {} };
const roomTag = { type: 'm.tag', content: { tags: {} } };
const ownJoin = ev('m.room.member', { state_key: ME, sender: ME, content: { membership: 'join' }, unsigned: { prev_content: { membership: 'invite' } } });
const newlyMsg = ev('m.room.message', { content: { msgtype: 'm.text', body: 'hi' } });
const leftMsg = ev('m.room.message', { content: { msgtype: 'm.text', body: 'bye' } });
const ownLeave = ev('m.room.member', { state_key: ME, sender: '@bob:hs.test', content: { membership: 'leave' }, unsigned: { prev_content: { membership: 'join' } } });
const inviteMember = { type: 'm.room.member', state_key: ME, sender: '@bob:hs.test', content: { membership: 'invite' } };
const inviteName = { type: 'm.room.name', state_key: '', sender: '@bob:hs.test', content: { name: 'x' } };
const pushRules = { type: 'm.push_rules', content: {} };
const presence = { type: 'm.presence', sender: '@bob:hs.test', content: { presence: 'online' } };
const toDevice = { type: 'm.room_key_request', sender: '@bob:hs.test', content: {} };

const BODY: SyncResponse = {
  next_batch: 's2',
  to_device: { events: [toDevice] },
  account_data: { events: [pushRules] },
  presence: { events: [presence] },
  rooms: {
    invite: { [INVITED]: { invite_state: { events: [inviteName, inviteMember] } } },
    join: {
      [JOINED]: {
        state: { events: [createEv, nameInState] },
        timeline: { events: [msg1, topic, redaction, msg2, profileChange] },
        ephemeral: { events: [typing, receipt, otherEphemeral] },
        account_data: { events: [roomTag] },
      },
      [NEWLY]: { timeline: { events: [ownJoin, newlyMsg] } },
    },
    leave: { [LEFT]: { timeline: { events: [leftMsg, ownLeave] } } },
  },
};

function recordAll(s: MatrixSession): string[] {
  const log: string[] = [];
  const describe = (a: unknown): string => {
    if (typeof a === 'string') return a;
    if (Array.isArray(a)) return `[${a.length}]`;
    if (a === undefined) return 'undefined';
    const t = a as { roomId?: string; events?: unknown[]; limited?: boolean; membership?: string };
    if (Array.isArray(t.events)) return `${t.roomId} ${t.membership}[${t.events.length}]${t.limited ? ' limited' : ''}`;
    const g = a as { roomId?: string; reason?: string };
    if (g.reason) return `${g.roomId} ${g.reason}`;
    const e = a as { type: string; content?: { body?: string } };
    return e.content?.body ? `${e.type}:${e.content.body}` : e.type;
  };
  for (const name of SYNC_EVENT_NAMES) {
    if (name === 'sync' || name === 'sync.error') continue;
    s.on(name as keyof SyncEvents, (...args: unknown[]) => void log.push(`${name} ${args.map(describe).join(' ')}`));
  }
  return log;
}

function ctx(incremental = true): DispatchContext {
  return { userId: ME, incremental, pending: [] };
}

describe('dispatchSync', () => {
  it('emits every kind of event of a sync body, in order, with its room', () => {
    const s = new MatrixSession({ baseUrl: 'http://hs.test' });
    const log = recordAll(s);
    dispatchSync(s as never, BODY, ctx());
    expect(log).toEqual([
      'to_device m.room_key_request',
      'account_data m.push_rules',
      `room.invite ${INVITED} m.room.member [2]`,
      `room.state ${JOINED} m.room.create`,
      `room.state ${JOINED} m.room.name`,
      `room.timeline ${JOINED} join[5]`,
      `room.event ${JOINED} m.room.message:one`,
      `room.message ${JOINED} m.room.message:one`,
      `room.event ${JOINED} m.room.topic`,
      `room.state ${JOINED} m.room.topic`,
      `room.event ${JOINED} m.room.redaction`,
      `room.redaction ${JOINED} m.room.redaction`,
      `room.event ${JOINED} m.room.message:two`,
      `room.message ${JOINED} m.room.message:two`,
      `room.event ${JOINED} m.room.member`, // a profile change: no room.join
      `room.state ${JOINED} m.room.member`,
      `typing ${JOINED} m.typing`,
      `receipt ${JOINED} m.receipt`,
      `room.account_data ${JOINED} m.tag`,
      `room.timeline ${NEWLY} join[2]`,
      `room.event ${NEWLY} m.room.member`,
      `room.state ${NEWLY} m.room.member`,
      `room.join ${NEWLY} m.room.member`,
      `room.event ${NEWLY} m.room.message:hi`,
      `room.message ${NEWLY} m.room.message:hi`,
      `room.timeline ${LEFT} leave[2]`,
      `room.event ${LEFT} m.room.message:bye`,
      `room.message ${LEFT} m.room.message:bye`,
      `room.event ${LEFT} m.room.member`,
      `room.state ${LEFT} m.room.member`,
      `room.leave ${LEFT} m.room.member`,
      'presence m.presence',
    ]);
  });

  it('passes the parsed events themselves (no copies)', () => {
    const s = new MatrixSession({ baseUrl: 'http://hs.test' });
    const seen: unknown[] = [];
    s.on('room.message', (_r, e) => void seen.push(e));
    s.on('room.invite', (_r, e, state) => void seen.push(e, state));
    dispatchSync(s as never, BODY, ctx());
    expect(seen[0]).toBe(inviteMember);
    expect(seen[1]).toBe(BODY.rooms!.invite![INVITED].invite_state!.events);
    expect(seen[2]).toBe(msg1);
  });

  it('emits nothing for events without listeners, and collects the promises of those with listeners', () => {
    const s = new MatrixSession({ baseUrl: 'http://hs.test' });
    const spy = jest.spyOn(s, 'emitAndWait');
    s.on('room.message', () => undefined);
    const c = ctx();
    dispatchSync(s as never, BODY, c);
    expect(spy.mock.calls.map((call) => call[0])).toEqual(['room.message', 'room.message', 'room.message', 'room.message']);
    expect(c.pending).toHaveLength(4);
  });

  it('finds room.join in the state block of an incremental sync only, and room.leave without a member event', () => {
    const joinInState: SyncResponse = {
      next_batch: 'x',
      rooms: {
        join: { [NEWLY]: { state: { events: [ownJoin] }, timeline: { events: [], limited: true } } },
        leave: { [LEFT]: {} },
      },
    };
    const s = new MatrixSession({ baseUrl: 'http://hs.test' });
    const log = recordAll(s);
    dispatchSync(s as never, joinInState, ctx(false));
    expect(log).toEqual([`room.state ${NEWLY} m.room.member`, `room.timeline ${NEWLY} join[0] limited`, `room.leave ${LEFT} undefined`]);
    log.length = 0;
    dispatchSync(s as never, joinInState, ctx(true));
    expect(log).toEqual([
      `room.state ${NEWLY} m.room.member`,
      `room.join ${NEWLY} m.room.member`,
      `room.timeline ${NEWLY} join[0] limited`,
      `room.leave ${LEFT} undefined`,
    ]);
  });

  it('emits room.gap before the room.timeline and the events of that room, and only for its room', () => {
    const s = new MatrixSession({ baseUrl: 'http://hs.test' });
    const log = recordAll(s);
    const gap = { roomId: NEWLY, prevBatch: 'p1', reason: 'limit' as const, filled: 3 };
    const seen: unknown[] = [];
    s.on('room.gap', (g) => void seen.push(g));
    dispatchSync(s as never, BODY, { ...ctx(), gaps: new Map([[NEWLY, gap]]) });
    const at = log.indexOf(`room.gap ${NEWLY} limit`);
    expect(at).toBeGreaterThan(-1);
    expect(log[at + 1]).toBe(`room.timeline ${NEWLY} join[2]`);
    expect(log.filter((l) => l.startsWith('room.gap'))).toHaveLength(1);
    expect(seen).toEqual([gap]);
  });

  it('calls onInvite for each invited room, and copes with an empty body and missing sections', () => {
    const s = new MatrixSession({ baseUrl: 'http://hs.test' });
    const log = recordAll(s);
    const invited: string[] = [];
    dispatchSync(s as never, { next_batch: 'x' }, ctx());
    dispatchSync(s as never, { next_batch: 'x', rooms: { invite: { [INVITED]: {} }, join: { [JOINED]: {} } } }, {
      ...ctx(),
      onInvite: (roomId) => void invited.push(roomId),
    });
    expect(invited).toEqual([INVITED]);
    expect(log).toEqual([`room.invite ${INVITED} undefined [0]`]);
  });
});
