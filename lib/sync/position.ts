import type { SyncResponse } from '../types';
import { mergeLastEvents, type SyncStore } from './store';

/** Room ID → the last timeline event delivered there (`null`: forget the room). */
export type LastEvents = Map<string, string | null>;

/** The loop's view of a store: where a room's delivery stopped, and saving a batch's position. */
export interface Positions {
  lastEventId(roomId: string): string | undefined | Promise<string | undefined>;
  save(token: string, lastEvents: LastEvents): void | Promise<void>;
}

/**
 * A store's positions. A store with `getLastEventId` and `setSyncPosition` keeps the last
 * events itself, written with the token. One with only the four original methods keeps
 * the token; the last events are then remembered in `memory` (per store, for the life of
 * the process), so gaps are filled within a run and across stop()/start(), not after a restart.
 */
export function positionsOf(store: SyncStore, memory: Map<string, string>): Positions {
  const { getLastEventId, setSyncPosition } = store;
  if (typeof getLastEventId === 'function' && typeof setSyncPosition === 'function') {
    return { lastEventId: (roomId) => getLastEventId.call(store, roomId), save: (token, last) => setSyncPosition.call(store, token, last) };
  }
  return {
    lastEventId: (roomId) => memory.get(roomId),
    save: async (token, last) => {
      await store.setSyncToken(token);
      mergeLastEvents(memory, last);
    },
  };
}

/**
 * The last event of each room's timeline in the batch (rooms without timeline events are
 * not changed); a left room is forgotten, so that a later rejoin does not fill the time
 * the user was out of it.
 */
export function lastEventsOf(body: SyncResponse): LastEvents {
  const last: LastEvents = new Map();
  const rooms = body.rooms;
  const joined = rooms?.join;
  if (joined) {
    for (const roomId in joined) {
      const id = lastId(joined[roomId].timeline?.events);
      if (id !== undefined) last.set(roomId, id);
    }
  }
  const left = rooms?.leave;
  if (left) for (const roomId in left) last.set(roomId, null);
  return last;
}

/**
 * After a hook changed the timelines: each room's last event is still the one the server
 * sent when it is still there (a hook replaces events in place, or adds older ones it could
 * decrypt only now, which must not move the mark back); otherwise the last one delivered.
 * Rooms a hook added get no mark: their events are older ones, delivered again.
 */
export function confirmLastEvents(body: SyncResponse, last: LastEvents): void {
  const joined = body.rooms?.join;
  for (const [roomId, eventId] of last) {
    if (eventId === null) continue;
    const events = joined?.[roomId]?.timeline?.events;
    if (!events) {
      last.delete(roomId);
      continue;
    }
    let i = events.length - 1;
    while (i >= 0 && events[i].event_id !== eventId) i--;
    if (i < 0) {
      const id = lastId(events);
      if (id === undefined) last.delete(roomId);
      else last.set(roomId, id);
    }
  }
}

function lastId(events: Array<{ event_id?: unknown }> | undefined): string | undefined {
  if (!events) return undefined;
  for (let i = events.length - 1; i >= 0; i--) {
    const id = events[i].event_id;
    if (typeof id === 'string') return id;
  }
  return undefined;
}
