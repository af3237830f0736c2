import type { BasicEvent, JoinedRoom, LeftRoom, StrippedStateEvent, SyncResponse, SyncRoomEvent } from '../types';
import { UNDECRYPTABLE, type UndecryptableInfo } from './types';

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
}

/**
 * Hands one sync response to the session's listeners, in this order: to-device events,
 * global account data, invites, joined rooms (state block, timeline, ephemeral, room account
 * data), left rooms (the same, then `room.leave`), presence. Events are passed as they were
 * parsed (no copies, no models), and an event nobody listens to is not emitted at all.
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
  if (toDevice) for (let i = 0; i < toDevice.length; i++) emit1('to_device', toDevice[i]);

  const accountData = body.account_data?.events;
  if (accountData) for (let i = 0; i < accountData.length; i++) emit1('account_data', accountData[i]);

  const rooms = body.rooms;
  if (rooms) {
    const invites = rooms.invite;
    if (invites) {
      for (const roomId in invites) {
        const state = invites[roomId]?.invite_state?.events ?? [];
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
  if (presence) for (let i = 0; i < presence.length; i++) emit1('presence', presence[i]);

  function dispatchRoom(roomId: string, room: JoinedRoom | LeftRoom | undefined, leaving: boolean): void {
    if (!room) return;
    let ownLeave: SyncRoomEvent | undefined;

    // The state block: the whole state on an initial sync, else the changes before the timeline.
    const state = room.state?.events;
    if (state) {
      for (let i = 0; i < state.length; i++) {
        const ev = state[i];
        emit2('room.state', roomId, ev);
        if (ctx.incremental && ev.type === 'm.room.member' && ev.state_key === ctx.userId) {
          if (isJoin(ev)) emit2('room.join', roomId, ev);
          else if (leaving) ownLeave = ev;
        }
      }
    }

    const timeline = room.timeline?.events;
    if (timeline) {
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
    if (ephemeral) {
      for (let i = 0; i < ephemeral.length; i++) {
        const ev = ephemeral[i];
        if (ev.type === 'm.typing') emit2('typing', roomId, ev);
        else if (ev.type === 'm.receipt') emit2('receipt', roomId, ev);
      }
    }

    const roomData = room.account_data?.events;
    if (roomData) for (let i = 0; i < roomData.length; i++) emit2('room.account_data', roomId, roomData[i]);

    if (leaving) emit2('room.leave', roomId, ownLeave);
  }
}

function isJoin(ev: SyncRoomEvent): boolean {
  if (ev.content?.membership !== 'join') return false;
  const prev = ev.unsigned?.prev_content as { membership?: unknown } | undefined;
  return prev?.membership !== 'join'; // a profile change is a join after a join
}

function ownMember(state: StrippedStateEvent[], userId: string | undefined): StrippedStateEvent | undefined {
  for (let i = 0; i < state.length; i++) {
    if (state[i].type === 'm.room.member' && state[i].state_key === userId) return state[i];
  }
  return undefined;
}

/** Visits every event of a sync response with the place it came from (used by `sync.events()`). */
export function forEachSyncEvent(
  body: SyncResponse,
  visit: (kind: string, roomId: string | undefined, event: BasicEvent | StrippedStateEvent, membership?: 'join' | 'leave') => void,
): void {
  const list = (kind: string, events: BasicEvent[] | undefined, roomId?: string, membership?: 'join' | 'leave'): void => {
    if (events) for (let i = 0; i < events.length; i++) visit(kind, roomId, events[i], membership);
  };
  list('to_device', body.to_device?.events);
  list('account_data', body.account_data?.events);
  const rooms = body.rooms;
  if (rooms) {
    for (const roomId in rooms.invite ?? {}) list('invite', rooms.invite![roomId]?.invite_state?.events, roomId);
    for (const [section, membership] of [
      [rooms.join, 'join'],
      [rooms.leave, 'leave'],
    ] as const) {
      for (const roomId in section ?? {}) {
        const room = section![roomId] as JoinedRoom | undefined;
        if (!room) continue;
        list('state', room.state?.events, roomId, membership);
        list('timeline', room.timeline?.events, roomId, membership);
        list('ephemeral', room.ephemeral?.events, roomId);
        list('room_account_data', room.account_data?.events, roomId);
      }
    }
  }
  list('presence', body.presence?.events);
}
