import { InvalidResponseError } from '../core/errors';
import { isObject } from '../core/validate';
import type { SyncResponse } from '../types';

export { isObject };

/** What a sync body's shape check found and left out (one entry per room and section). */
export interface MalformedItems {
  /** Where: `to_device`, `rooms.join`, `timeline`, `state`, `invite_state`, … */
  section: string;
  roomId?: string;
  /** How many items were left out there. */
  count: number;
}

const TARGET = { method: 'GET', path: '/_matrix/client/v3/sync' };
/** Tokens go back to the server in a URL: a longer one is not a token. */
export const MAX_TOKEN_LENGTH = 4096;
/** Room IDs are at most 255 bytes (spec: Appendices, Identifier grammar). */
const MAX_ROOM_ID_LENGTH = 255;

type Obj = Record<string, unknown>;


/** What every event the loop hands over is at least: an object with a string `type`. */
export function isEvent(value: unknown): boolean {
  return isObject(value) && typeof value.type === 'string';
}

function invalid(reason: string): InvalidResponseError {
  return new InvalidResponseError(TARGET, 200, reason);
}

/**
 * Checks a /sync body before anything reads it, so that a broken or hostile server cannot
 * make the loop (or `sync.once()`) iterate a fake array, crash on a `null` or misfile an event.
 *
 * - The top level the SDK relies on must be right, or the whole body is refused with an
 *   InvalidResponseError: `next_batch` a token string; `rooms` and its `join`, `leave`,
 *   `invite`, `knock` maps objects; `presence`, `account_data`, `to_device` objects whose
 *   `events` are arrays; `device_lists` an object of arrays. `null` counts as absent.
 * - Below that, what is malformed is left out and returned (one entry per room and section),
 *   the rest kept: a room whose ID is not a room ID or whose value is not an object, a
 *   section that is not an object or whose `events` is not an array, and any event that is
 *   not an object with a string `type`.
 * - Timeline and state events get their `room_id`, set on the parsed object.
 *
 * Arrays with nothing wrong are kept as they are (no copies); the body is changed in place.
 * Running it again on the same body finds nothing new, so the loop re-checks what its hooks
 * changed with it.
 */
export function guardSync(body: SyncResponse): MalformedItems[] | undefined {
  if (!isObject(body)) throw invalid('the body is not a JSON object');
  const token = body.next_batch as unknown;
  if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) {
    throw invalid('next_batch is not a token string');
  }
  const found: MalformedItems[] = [];
  const b = body as unknown as Obj;
  for (const section of ['to_device', 'account_data', 'presence'] as const) {
    const events = topLevelList(b, section);
    const kept = events && keep(events, isEvent);
    if (kept) {
      found.push({ section, count: events.length - kept.length });
      (b[section] as Obj).events = kept;
    }
  }
  guardDeviceKeys(b, found);

  const rooms = b.rooms;
  if (rooms != null) {
    if (!isObject(rooms)) throw invalid('rooms is not an object');
    for (const membership of ['join', 'leave', 'invite', 'knock'] as const) {
      const map = rooms[membership];
      if (map == null) continue;
      if (!isObject(map)) throw invalid(`rooms.${membership} is not an object`);
      guardRoomMap(map, membership, found);
    }
  }
  return found.length > 0 ? found : undefined;
}

/** `body[section].events` when present; a wrong container is the whole body's fault. */
function topLevelList(body: Obj, section: string): unknown[] | undefined {
  const container = body[section];
  if (container == null) return undefined;
  if (!isObject(container)) throw invalid(`${section} is not an object`);
  const events = container.events;
  if (events == null) return undefined;
  if (!Array.isArray(events)) throw invalid(`${section}.events is not an array`);
  return events;
}

/** The end-to-end encryption sections: device lists and key counts, read by the crypto step. */
function guardDeviceKeys(body: Obj, found: MalformedItems[]): void {
  const lists = body.device_lists;
  if (lists != null) {
    if (!isObject(lists)) throw invalid('device_lists is not an object');
    for (const key of ['changed', 'left'] as const) {
      const ids = lists[key];
      if (ids == null) continue;
      if (!Array.isArray(ids)) throw invalid(`device_lists.${key} is not an array`);
      const kept = keep(ids, (id) => typeof id === 'string');
      if (kept) {
        found.push({ section: `device_lists.${key}`, count: ids.length - kept.length });
        lists[key] = kept;
      }
    }
  }
  const counts = body.device_one_time_keys_count;
  if (counts != null) {
    if (!isObject(counts)) throw invalid('device_one_time_keys_count is not an object');
    let bad = 0;
    for (const algorithm in counts) {
      const n = counts[algorithm];
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
        delete counts[algorithm];
        bad++;
      }
    }
    if (bad > 0) found.push({ section: 'device_one_time_keys_count', count: bad });
  }
  const fallback = body.device_unused_fallback_key_types;
  if (fallback != null) {
    if (!Array.isArray(fallback)) throw invalid('device_unused_fallback_key_types is not an array');
    const kept = keep(fallback, (t) => typeof t === 'string');
    if (kept) {
      found.push({ section: 'device_unused_fallback_key_types', count: fallback.length - kept.length });
      body.device_unused_fallback_key_types = kept;
    }
  }
}

function guardRoomMap(map: Obj, membership: 'join' | 'leave' | 'invite' | 'knock', found: MalformedItems[]): void {
  let bad = 0;
  for (const roomId in map) {
    const room = map[roomId];
    if (roomId.charCodeAt(0) !== 33 /* ! */ || roomId.length > MAX_ROOM_ID_LENGTH || !isObject(room)) {
      delete map[roomId];
      bad++;
      continue;
    }
    // Named property reads (not room[section]): this runs for every room of every batch.
    if (membership === 'invite') {
      if (room.invite_state != null && !roomList(room.invite_state, 'invite_state', roomId, false, found)) delete room.invite_state;
    } else if (membership === 'knock') {
      if (room.knock_state != null && !roomList(room.knock_state, 'knock_state', roomId, false, found)) delete room.knock_state;
    } else {
      if (room.state != null && !roomList(room.state, 'state', roomId, true, found)) delete room.state;
      if (room.state_after != null && !roomList(room.state_after, 'state_after', roomId, true, found)) delete room.state_after;
      const timeline = room.timeline;
      if (timeline != null) {
        if (!roomList(timeline, 'timeline', roomId, true, found)) delete room.timeline;
        else if ((timeline as Obj).prev_batch != null && !isToken((timeline as Obj).prev_batch)) {
          delete (timeline as Obj).prev_batch;
          found.push({ section: 'timeline.prev_batch', roomId, count: 1 });
        }
      }
      if (room.ephemeral != null && !roomList(room.ephemeral, 'ephemeral', roomId, false, found)) delete room.ephemeral;
      if (room.account_data != null && !roomList(room.account_data, 'account_data', roomId, false, found)) delete room.account_data;
    }
  }
  if (bad > 0) found.push({ section: `rooms.${membership}`, count: bad });
}

/**
 * One section of a room (`{ events: [...] }`), in one pass: bad events are left out and
 * (for timeline and state) the others get their `room_id`. False when the section itself is
 * not an object: the caller drops it.
 */
function roomList(container: unknown, section: string, roomId: string, roomEvents: boolean, found: MalformedItems[]): boolean {
  if (!isObject(container)) {
    found.push({ section, roomId, count: 1 });
    return false;
  }
  const events = container.events;
  if (events == null) return true;
  if (!Array.isArray(events)) {
    container.events = [];
    found.push({ section, roomId, count: 1 });
    return true;
  }
  // isEvent written out: this loop runs for every event of every batch, cold in the first.
  // (No Array.isArray: an array never has a string `type` in parsed JSON.)
  let bad = 0;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i] as Obj;
    if (typeof ev !== 'object' || ev === null || typeof ev.type !== 'string') bad++;
    else if (roomEvents) ev.room_id = roomId;
  }
  if (bad > 0) {
    container.events = events.filter(isEvent);
    found.push({ section, roomId, count: bad });
  }
  return true;
}

/** undefined when every item passes (the usual case: no new array), else the items that do. */
function keep(items: unknown[], ok: (item: unknown) => boolean): unknown[] | undefined {
  let i = 0;
  while (i < items.length && ok(items[i])) i++;
  if (i === items.length) return undefined;
  const kept = items.slice(0, i);
  for (i++; i < items.length; i++) if (ok(items[i])) kept.push(items[i]);
  return kept;
}

/** A pagination or sync token we can send back. */
export function isToken(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_TOKEN_LENGTH;
}
