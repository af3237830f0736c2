import type { BasicEvent, ClientEvent, JoinedRoom, LeftRoom, StrippedStateEvent, SyncResponse, Timeline } from '../types';
import { isJoinEvent as isJoin, type RoomGap } from './gaps';
import { UNDECRYPTABLE, type RoomTimeline, type UndecryptableInfo } from './types';

const NOT_DECRYPTED: UndecryptableInfo = { code: 'CryptoNotStarted', reason: 'encryption is not started' };

/** The part of the session the dispatcher uses (a SafeEmitter). */
export interface DispatchEmitter {
  listenerCount(event: string): number;
  emitAndWait(event: string, ...args: unknown[]): Promise<void>;
}

export interface DispatchContext {
  /** The session's user: own membership changes become `room.join` / `room.leave`. */
  userId: string | undefined;
  /** False for a sync without `since`: its state blocks hold the whole state, not changes. */
  incremental: boolean;
  /** Receives the promise of every emit that had listeners; the loop awaits them all before saving its position. */
  pending: Promise<unknown>[];
  /** Called for each invited room after `room.invite` (the autoJoin option). */
  onInvite?: (roomId: string) => void;
  /** The gaps the loop did not fill, by room: emitted as `room.gap` before the room's timeline. */
  gaps?: Map<string, RoomGap>;
}

/**
 * Hands one sync response to the session's listeners, in this order: to-device events,
 * global account data, invites, joined rooms (state block, `room.gap`, `room.timeline`, the
 * timeline's events, ephemeral, room account data), left rooms (the same, then
 * `room.leave`), presence. Events are passed as they were parsed (no copies, no models),
 * and an event nobody listens to is not emitted at all. The body has passed guardSync;
 * only real arrays are walked all the same.
 */
export function dispatchSync(emitter: DispatchEmitter, body: SyncResponse, ctx: DispatchContext): void {
  const { pending } = ctx;
  const emit1 = (name: string, a: unknown): void => {
    if (emitter.listenerCount(name) > 0) pending.push(emitter.emitAndWait(name, a));
  };
  const emit2 = (name: string, a: unknown, b: unknown): void => {
    if (emitter.listenerCount(name) > 0) pending.push(emitter.emitAndWait(name, a, b));
  };

  const toDevice = body.to_device?.events;
  if (Array.isArray(toDevice)) for (let i = 0; i < toDevice.length; i++) emit1('to_device', toDevice[i]);

  const accountData = body.account_data?.events;
  if (Array.isArray(accountData)) for (let i = 0; i < accountData.length; i++) emit1('account_data', accountData[i]);

  const rooms = body.rooms;
  if (rooms) {
    const invites = rooms.invite;
    if (invites) {
      for (const roomId in invites) {
        const listed = invites[roomId]?.invite_state?.events;
        const state = Array.isArray(listed) ? listed : [];
        if (emitter.listenerCount('room.invite') > 0) {
          pending.push(emitter.emitAndWait('room.invite', roomId, ownMember(state, ctx.userId), state));
        }
        ctx.onInvite?.(roomId);
      }
    }
    const joined = rooms.join;
    if (joined) for (const roomId in joined) dispatchRoom(roomId, joined[roomId], false);
    const left = rooms.leave;
    if (left) for (const roomId in left) dispatchRoom(roomId, left[roomId], true);
  }

  const presence = body.presence?.events;
  if (Array.isArray(presence)) for (let i = 0; i < presence.length; i++) emit1('presence', presence[i]);

  function dispatchRoom(roomId: string, room: JoinedRoom | LeftRoom | undefined, leaving: boolean): void {
    if (!room) return;
    let ownLeave: ClientEvent | undefined;

    // The state block: the whole state on an initial sync, else the changes before the timeline.
    const state = room.state?.events;
    if (Array.isArray(state)) {
      for (let i = 0; i < state.length; i++) {
        const ev = state[i];
        emit2('room.state', roomId, ev);
        if (ctx.incremental && ev.type === 'm.room.member' && ev.state_key === ctx.userId) {
          if (isJoin(ev)) emit2('room.join', roomId, ev);
          else if (leaving) ownLeave = ev;
        }
      }
    }

    const gap = ctx.gaps?.get(roomId);
    if (gap) emit1('room.gap', gap);
    const timelineBlock = room.timeline;
    const timeline = timelineBlock?.events;
    if (Array.isArray(timeline)) {
      if (emitter.listenerCount('room.timeline') > 0) {
        pending.push(emitter.emitAndWait('room.timeline', roomTimeline(roomId, timelineBlock!, leaving ? 'leave' : 'join')));
      }
      for (let i = 0; i < timeline.length; i++) {
        const ev = timeline[i];
        emit2('room.event', roomId, ev);
        const type = ev.type;
        if (type === 'm.room.message') emit2('room.message', roomId, ev);
        else if (type === 'm.room.redaction') emit2('room.redaction', roomId, ev);
        else if (type === 'm.room.encrypted' && emitter.listenerCount('room.undecryptable') > 0) {
          pending.push(emitter.emitAndWait('room.undecryptable', roomId, ev, UNDECRYPTABLE.get(ev) ?? NOT_DECRYPTED));
        }
        if (ev.state_key !== undefined) {
          emit2('room.state', roomId, ev);
          if (type === 'm.room.member' && ev.state_key === ctx.userId) {
            if (isJoin(ev)) emit2('room.join', roomId, ev);
            else if (leaving) ownLeave = ev;
          }
        }
      }
    }

    const ephemeral = (room as JoinedRoom).ephemeral?.events;
    if (Array.isArray(ephemeral)) {
      for (let i = 0; i < ephemeral.length; i++) {
        const ev = ephemeral[i];
        if (ev.type === 'm.typing') emit2('typing', roomId, ev);
        else if (ev.type === 'm.receipt') emit2('receipt', roomId, ev);
      }
    }

    const roomData = room.account_data?.events;
    if (Array.isArray(roomData)) for (let i = 0; i < roomData.length; i++) emit2('room.account_data', roomId, roomData[i]);

    if (leaving) emit2('room.leave', roomId, ownLeave);
  }
}

/** The `room.timeline` payload, made only when someone listens. */
function roomTimeline(roomId: string, timeline: Timeline, membership: 'join' | 'leave'): RoomTimeline {
  return { roomId, events: timeline.events, limited: timeline.limited === true, prevBatch: timeline.prev_batch, membership };
}

function ownMember(state: StrippedStateEvent[], userId: string | undefined): StrippedStateEvent | undefined {
  for (let i = 0; i < state.length; i++) {
    if (state[i].type === 'm.room.member' && state[i].state_key === userId) return state[i];
  }
  return undefined;
}

/** Where an event visited by forEachSyncEvent came from: its room, membership and, for the timeline, the timeline. */
export interface VisitPlace {
  roomId?: string;
  membership?: 'join' | 'leave';
  timeline?: Timeline;
}

/**
 * Visits every event of a sync response with the place it came from (used by `sync.events()`).
 */
export function forEachSyncEvent(
  body: SyncResponse,
  visit: (kind: string, event: BasicEvent | StrippedStateEvent, place: VisitPlace) => void,
): void {
  const none: VisitPlace = {};
  const list = (kind: string, events: unknown, place: VisitPlace): void => {
    if (Array.isArray(events)) for (let i = 0; i < events.length; i++) visit(kind, events[i] as BasicEvent, place);
  };
  list('to_device', body.to_device?.events, none);
  list('account_data', body.account_data?.events, none);
  const rooms = body.rooms;
  if (rooms) {
    const invites = rooms.invite;
    if (invites) for (const roomId in invites) list('invite', invites[roomId]?.invite_state?.events, { roomId });
    for (const [section, membership] of [
      [rooms.join, 'join'],
      [rooms.leave, 'leave'],
    ] as const) {
      if (!section) continue;
      for (const roomId in section) {
        const room = section[roomId] as JoinedRoom | undefined;
        if (!room) continue;
        const place: VisitPlace = { roomId, membership };
        list('state', room.state?.events, place);
        list('timeline', room.timeline?.events, { roomId, membership, timeline: room.timeline });
        const bare: VisitPlace = { roomId };
        list('ephemeral', room.ephemeral?.events, bare);
        list('room_account_data', room.account_data?.events, bare);
      }
    }
  }
  list('presence', body.presence?.events, none);
}
