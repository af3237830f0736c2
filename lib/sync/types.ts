import type { BasicEvent, ClientEvent, StrippedStateEvent, ToDeviceEvent } from '../types';
import type { RoomGap } from './gaps';

export type Presence = 'offline' | 'online' | 'unavailable';

/**
 * Where the sync loop is (the `sync` event reports each change with the previous state):
 * - `PREPARED`: the first batch of this run has been handed to the listeners;
 * - `SYNCING`: later batches are arriving;
 * - `RECONNECTING`: a request failed (network, timeout, 5xx); the loop waits and probes `/versions`;
 * - `ERROR`: three failures or more in a row; the loop still probes and resumes by itself;
 * - `STOPPED`: the loop has ended (by `stop()`, `close()` or a fatal error).
 */
export type SyncState = 'PREPARED' | 'SYNCING' | 'RECONNECTING' | 'ERROR' | 'STOPPED';

/** What the `sync` event carries besides the states: the error behind RECONNECTING, ERROR or an error exit. */
export interface SyncStateInfo {
  error?: unknown;
}

/** Which step failed, in a `sync.error` report. */
export type SyncErrorSource =
  /** GET /sync. */
  | 'sync'
  /** POST /user/{userId}/filter (creating the filter object given to `start`). */
  | 'filter'
  /** GET /versions, polled while the server is unreachable. */
  | 'probe'
  /** Reading or writing the since-token store. */
  | 'store'
  /** A listener of a sync event threw or rejected (the loop carried on). */
  | 'listener'
  /** Joining an invited room (the `autoJoin` option). */
  | 'autoJoin'
  /**
   * The server sent items that are not what the spec says (an event that is not an object
   * with a string `type`, a room section of the wrong shape): they were left out, the rest
   * of the batch delivered. `section` and `roomId` say where.
   */
  | 'malformed'
  /** Fetching the missing events of a gap failed; the `room.gap` event has the details. */
  | 'gap'
  /** The end-to-end encryption step of the loop failed on a batch; the batch was delivered anyway. */
  | 'crypto';

/** The second argument of `sync.error`. */
export interface SyncErrorInfo {
  source: SyncErrorSource;
  /** For `listener`: the event whose listener failed. For `crypto`: the step (`receive`, `prepare`, `done`). */
  event?: string;
  /** For `autoJoin`, `gap` and `malformed`: the room. */
  roomId?: string;
  /** For `malformed`: the part of the body, e.g. `timeline`, `state`, `to_device`, `rooms.join`. */
  section?: string;
  /**
   * When the loop tries again, in ms. `null`: the loop stops because of this error (a
   * `sync` STOPPED follows). `undefined`: the loop is not affected (listener, autoJoin).
   */
  retryInMs: number | null | undefined;
  /** Consecutive failed requests so far (0 for errors that are not request failures). */
  failures: number;
}

/** `m.room.message` content as it arrives: nothing in it is guaranteed by the server. */
export type MessageEventContent = Record<string, unknown> & { msgtype?: string; body?: string };

/** `m.typing`: the users typing in the room now. */
export interface TypingEvent extends BasicEvent {
  type: 'm.typing';
  content: { user_ids: string[] };
}

/** `m.receipt`: event ID → receipt type → user ID → `{ ts, thread_id? }`. */
export interface ReceiptEvent extends BasicEvent {
  type: 'm.receipt';
  content: Record<string, Record<string, Record<string, { ts?: number; thread_id?: string }>>>;
}

export interface PresenceEvent extends ToDeviceEvent {
  type: 'm.presence';
  content: {
    presence: 'online' | 'offline' | 'unavailable';
    last_active_ago?: number;
    currently_active?: boolean;
    status_msg?: string;
    avatar_url?: string;
    displayname?: string;
  };
}

/** The `room.timeline` event: a room's timeline in one batch, as the loop delivers it. */
export interface RoomTimeline {
  roomId: string;
  /** In timeline order, the events of a filled gap first. */
  events: ClientEvent[];
  /** True when events before these were not delivered (a `room.gap` event says why). */
  limited: boolean;
  /** Where to page backwards from to get what is older than these events. */
  prevBatch: string | undefined;
  membership: 'join' | 'leave';
}

/** The events the sync loop emits on the session (merged into SessionEvents). */
export interface SyncEvents {
  /** The loop changed state. */
  sync: [state: SyncState, prevState: SyncState, info: SyncStateInfo];
  /** Every failure: of a request (with the delay before the next try), of the store, of a listener of a sync event. */
  'sync.error': [error: unknown, info: SyncErrorInfo];
  /**
   * A room's timeline held events the loop did not deliver: filling was off, or stopped
   * short (see `reason`). Emitted before the room's timeline events.
   */
  'room.gap': [gap: RoomGap];
  /** A joined or left room's timeline in this batch, before its events are emitted one by one. */
  'room.timeline': [timeline: RoomTimeline];
  /** Every timeline event of a joined or left room, in order (the events of a filled gap included). */
  'room.event': [roomId: string, event: ClientEvent];
  /** Timeline events of type `m.room.message`. */
  'room.message': [roomId: string, event: ClientEvent<MessageEventContent>];
  /** State events: a room's `state` block, and the state events of its timeline. */
  'room.state': [roomId: string, event: ClientEvent];
  /** Timeline events of type `m.room.redaction`. */
  'room.redaction': [roomId: string, event: ClientEvent];
  /** An invite: the own `m.room.member` invite event (when the server included it) and the stripped room state. */
  'room.invite': [roomId: string, inviteEvent: StrippedStateEvent | undefined, inviteState: StrippedStateEvent[]];
  /** The own membership became `join` (seen in the timeline, or in the state block of an incremental sync). */
  'room.join': [roomId: string, event: ClientEvent];
  /** The room moved to the `leave` section (left, kicked or banned); the own membership event when present. */
  'room.leave': [roomId: string, event: ClientEvent | undefined];
  /** Global account data. */
  account_data: [event: BasicEvent];
  'room.account_data': [roomId: string, event: BasicEvent];
  presence: [event: PresenceEvent];
  typing: [roomId: string, event: TypingEvent];
  receipt: [roomId: string, event: ReceiptEvent];
  to_device: [event: ToDeviceEvent];
}

/** Names of the events above; listener failures of these are reported through `sync.error`. */
export const SYNC_EVENT_NAMES: ReadonlySet<string> = new Set<keyof SyncEvents>([
  'sync',
  'sync.error',
  'room.gap',
  'room.timeline',
  'room.event',
  'room.message',
  'room.state',
  'room.redaction',
  'room.invite',
  'room.join',
  'room.leave',
  'account_data',
  'room.account_data',
  'presence',
  'typing',
  'receipt',
  'to_device',
]);

/** Which part of a sync response an item of `sync.events()` comes from. */
export type SyncItemKind =
  | 'timeline'
  | 'state'
  | 'invite'
  | 'ephemeral'
  | 'room_account_data'
  | 'account_data'
  | 'presence'
  | 'to_device';

/**
 * One event yielded by `session.sync.events()`: the event as received, where it came from,
 * its room. Timeline items also carry their timeline's `limited` and `prevBatch` (as in
 * RoomTimeline: `limited` is true when events before the timeline were not delivered).
 */
export type SyncItem =
  | {
      kind: 'timeline';
      roomId: string;
      membership: 'join' | 'leave';
      event: ClientEvent;
      limited: boolean;
      prevBatch: string | undefined;
    }
  | { kind: 'state'; roomId: string; membership: 'join' | 'leave'; event: ClientEvent }
  | { kind: 'invite'; roomId: string; event: StrippedStateEvent }
  | { kind: 'ephemeral'; roomId: string; event: BasicEvent }
  | { kind: 'room_account_data'; roomId: string; event: BasicEvent }
  | { kind: 'account_data'; event: BasicEvent }
  | { kind: 'presence'; event: ToDeviceEvent }
  | { kind: 'to_device'; event: ToDeviceEvent };
