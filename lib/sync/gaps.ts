import { AbortError, InvalidResponseError } from '../core/errors';
import type { Messages } from '../resources/rooms';
import type { ClientEvent, JoinedRoom, LeftRoom, SyncResponse, Timeline } from '../types';
import { isEvent, isObject, isToken } from './guard';

/**
 * Why a gap was not (fully) filled:
 * - `limit`: `maxGapFill` events were fetched before the last delivered event was reached;
 * - `unknown_position`: the loop has no last event for the room (first run, a room joined or
 *   rejoined since, a store without `getLastEventId`), so it cannot tell where the gap starts;
 * - `history_end`: the server's history ended (or hid the rest) before that event;
 * - `error`: a request for the history failed, or its answer was malformed (see `error`);
 * - `disabled`: the loop runs with `fillGaps: false`.
 */
export type GapReason = 'limit' | 'unknown_position' | 'history_end' | 'error' | 'disabled';

/** The `room.gap` event: events of a room that the loop did not deliver. */
export interface RoomGap {
  /** The room's ID. */
  roomId: string;
  /**
   * Where to page backwards from (`rooms.messages(roomId, { from: prevBatch, dir: 'b' })`)
   * to get the events that were not delivered: older than every event delivered for the
   * room in this batch. Undefined when there is nothing further back (`history_end`) or the
   * server gave no token.
   */
  prevBatch: string | undefined;
  /** Why the events were not delivered (see GapReason). */
  reason: GapReason;
  /** With `error`: what failed (a MatrixError, ConnectionError, InvalidResponseError, …). */
  error?: unknown;
  /** How many events of the gap were fetched and delivered before the timeline's own. */
  filled: number;
}

/** What filling needs from the loop. */
export interface GapContext {
  /** False on an initial sync (no `since`): nothing was delivered before, so there is no gap to fill. */
  incremental: boolean;
  fillGaps: boolean;
  /**
   * Whether the gaps left are returned: only someone listening to `room.gap` needs them (a
   * first sync has one per room). Failed fills (`error`) are returned all the same.
   */
  reportUnfilled: boolean;
  maxGapFill: number;
  userId: string | undefined;
  signal: AbortSignal;
  /** The last event the loop delivered in the room, if it knows. */
  lastEventId(roomId: string): string | undefined | Promise<string | undefined>;
  /** GET /rooms/{roomId}/messages backwards from `from`. */
  messages(roomId: string, from: string, limit: number, signal: AbortSignal): Promise<Messages>;
}

/** Events per /messages request. */
export const GAP_PAGE_SIZE = 100;
/** Rooms filled at the same time. */
const GAP_CONCURRENCY = 4;

/**
 * Fills the limited timelines of a batch: for each joined or left room whose timeline is
 * `limited`, pages /messages backwards from `prev_batch` until the last event delivered for
 * that room, and puts the missing events, oldest first, before the timeline's own (each
 * once, de-duplicated by event ID). Returns the gaps it did not fill completely, by room;
 * undefined when there were none.
 *
 * A filled timeline becomes `limited: false`, its `prev_batch` a token older than every
 * event delivered; a partly filled one keeps `limited: true` with `prev_batch` where the
 * filling stopped. Throws only an AbortError (the loop is stopping).
 */
export async function fillGaps(body: SyncResponse, ctx: GapContext): Promise<Map<string, RoomGap> | undefined> {
  const rooms = body.rooms;
  if (!rooms) return undefined;
  let gaps: Map<string, RoomGap> | undefined;
  let work: Array<[string, JoinedRoom | LeftRoom, Timeline]> | undefined;
  const visit = (map: Record<string, JoinedRoom | LeftRoom> | undefined): void => {
    for (const roomId in map) {
      const room = map[roomId];
      const timeline = room.timeline;
      if (timeline?.limited !== true) continue;
      // Decided without the store or the server (the usual case on a first sync): no promise per room.
      const reason = !ctx.fillGaps ? 'disabled' : !ctx.incremental || ownJoinIn(room, ctx.userId) ? 'unknown_position' : undefined;
      if (!reason) (work ??= []).push([roomId, room, timeline]);
      else if (ctx.reportUnfilled) (gaps ??= new Map()).set(roomId, { roomId, prevBatch: timeline.prev_batch, reason, filled: 0 });
    }
  };
  visit(rooms.join);
  visit(rooms.leave);
  if (work) await fillRooms(work, (gaps ??= new Map()), ctx);
  return gaps !== undefined && gaps.size > 0 ? gaps : undefined;
}

/** Fills rooms GAP_CONCURRENCY at a time; the first failure (a stop, the store) is thrown once all have settled. */
async function fillRooms(work: Array<[string, JoinedRoom | LeftRoom, Timeline]>, gaps: Map<string, RoomGap>, ctx: GapContext): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    // After a failure no room is started; the ones under way finish.
    while (next < work.length && !failure) {
      const [roomId, room, timeline] = work[next++];
      try {
        const gap = await fillRoom(roomId, room, timeline, ctx);
        // A failed fill is reported as sync.error too, listened to or not.
        if (gap && (ctx.reportUnfilled || gap.reason === 'error')) gaps.set(roomId, gap);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(GAP_CONCURRENCY, work.length) }, worker));
  if (failure) throw failure.error;
}

async function fillRoom(roomId: string, room: JoinedRoom | LeftRoom, timeline: Timeline, ctx: GapContext): Promise<RoomGap | undefined> {
  const unfilled = (reason: GapReason): RoomGap => ({ roomId, prevBatch: timeline.prev_batch, reason, filled: 0 });
  const anchor = await ctx.lastEventId(roomId);
  if (ctx.signal.aborted) throw new AbortError();
  if (anchor === undefined) return unfilled('unknown_position');
  const own = timeline.events;
  const inBatch = new Set<string>();
  for (let i = 0; i < own.length; i++) {
    const id = own[i].event_id;
    if (id === anchor) return undefined; // no gap after all: the timeline goes back to it
    if (typeof id === 'string') inBatch.add(id);
  }
  if (!isToken(timeline.prev_batch)) {
    return { ...unfilled('error'), error: invalidMessages(roomId, 'a limited timeline without prev_batch') };
  }

  const page = await pageBack(roomId, timeline.prev_batch, anchor, inBatch, ctx);
  const fetched = page.events;
  if (fetched.length > 0) {
    fetched.reverse();
    for (let i = 0; i < fetched.length; i++) fetched[i].room_id = roomId;
    timeline.events = fetched.concat(own);
    dropFilledState(room, fetched);
  }
  if (page.stop === undefined) {
    timeline.limited = false;
    if (page.olderThan === undefined) delete timeline.prev_batch;
    else timeline.prev_batch = page.olderThan;
    return undefined;
  }
  timeline.prev_batch = page.olderThan;
  if (page.olderThan === undefined) delete timeline.prev_batch;
  return { roomId, prevBatch: page.olderThan, reason: page.stop.reason, error: page.stop.error, filled: fetched.length };
}

interface Paged {
  /** Newest first. */
  events: ClientEvent[];
  /** A token older than every event in `events` (for a remaining gap: where it continues). */
  olderThan: string | undefined;
  /** Why paging ended short of the anchor; undefined when the anchor was reached. */
  stop?: { reason: GapReason; error?: unknown };
}

/**
 * Pages back from `from` until `anchor`, taking at most `maxGapFill` events and making at
 * most twice as many requests as that needs, whatever the server answers: a chunk that is
 * not an array, a missing or repeated token and an endless chain of empty pages all end it.
 */
async function pageBack(roomId: string, from: string, anchor: string, inBatch: Set<string>, ctx: GapContext): Promise<Paged> {
  const max = ctx.maxGapFill;
  const maxPages = 2 * Math.ceil(max / GAP_PAGE_SIZE) + 2;
  const events: ClientEvent[] = [];
  const seen = new Set<string>();
  const tokens = new Set<string>([from]);
  for (let pages = 0; ; pages++) {
    if (events.length >= max || pages >= maxPages) return { events, olderThan: from, stop: { reason: 'limit' } };
    const limit = Math.min(GAP_PAGE_SIZE, max - events.length);
    let page: Messages;
    try {
      page = await ctx.messages(roomId, from, limit, ctx.signal);
    } catch (error) {
      if (ctx.signal.aborted || error instanceof AbortError) throw new AbortError();
      return { events, olderThan: from, stop: { reason: 'error', error } };
    }
    const chunk: unknown = isObject(page) ? page.chunk : undefined;
    if (!Array.isArray(chunk)) return { events, olderThan: from, stop: { reason: 'error', error: invalidMessages(roomId, 'chunk is not an array') } };
    // A server that sends more than asked: take what was asked; the rest stays in the gap.
    const taking = Math.min(chunk.length, limit);
    for (let i = 0; i < taking; i++) {
      const ev = chunk[i] as ClientEvent;
      if (!isEvent(ev)) continue;
      const id = ev.event_id;
      if (id === anchor) return { events, olderThan: token(page.end) };
      if (typeof id === 'string') {
        if (inBatch.has(id) || seen.has(id)) continue;
        seen.add(id);
      }
      events.push(ev);
    }
    if (taking < chunk.length) return { events, olderThan: from, stop: { reason: 'limit' } };
    const end: unknown = page.end;
    if (end == null) return { events, olderThan: undefined, stop: { reason: 'history_end' } };
    if (!isToken(end)) return { events, olderThan: from, stop: { reason: 'error', error: invalidMessages(roomId, 'end is not a token') } };
    if (tokens.has(end)) {
      return { events, olderThan: from, stop: { reason: 'error', error: invalidMessages(roomId, 'the same pagination token came back') } };
    }
    tokens.add(end);
    from = end;
  }
}

function token(value: unknown): string | undefined {
  return isToken(value) ? value : undefined;
}

function invalidMessages(roomId: string, reason: string): InvalidResponseError {
  return new InvalidResponseError({ method: 'GET', path: `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages` }, 200, reason);
}

/**
 * The user's own membership became `join` in this batch (in the state block or the
 * timeline): the history before a join is not the loop's to deliver, so a (re)joined room
 * starts afresh.
 */
function ownJoinIn(room: JoinedRoom | LeftRoom, userId: string | undefined): boolean {
  for (const list of [room.state?.events, room.timeline?.events]) {
    if (!list) continue;
    for (let i = 0; i < list.length; i++) {
      const ev = list[i];
      if (ev.type === 'm.room.member' && ev.state_key === userId && isJoinEvent(ev)) return true;
    }
  }
  return false;
}

/** A change to `join` (a profile change is a join after a join, not a new one). */
export function isJoinEvent(ev: { content?: unknown; unsigned?: { prev_content?: unknown } }): boolean {
  if ((ev.content as { membership?: unknown } | undefined)?.membership !== 'join') return false;
  return (ev.unsigned?.prev_content as { membership?: unknown } | undefined)?.membership !== 'join';
}

/**
 * The state block of a limited timeline holds the state changes of the gap; the ones the
 * filled events now carry are delivered there, in their place, and not twice.
 */
function dropFilledState(room: JoinedRoom | LeftRoom, filled: ClientEvent[]): void {
  const state = room.state?.events;
  if (!state || state.length === 0) return;
  let ids: Set<string> | undefined;
  for (let i = 0; i < filled.length; i++) {
    if (filled[i].state_key !== undefined && typeof filled[i].event_id === 'string') (ids ??= new Set()).add(filled[i].event_id);
  }
  if (ids) room.state!.events = state.filter((ev) => !ids.has(ev.event_id));
}
