import type { BasicEvent, ClientEvent, StrippedStateEvent, ToDeviceEvent } from '../types';
import type { RoomGap } from './gaps';

/** A presence the loop may set with each request (`setPresence`). */
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
  /** The failure behind RECONNECTING or ERROR, or the error that stopped the loop. */
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
  /**
   * The encryption engine: handing it a batch (the batch is then fetched again, not
   * delivered: its to-device messages may carry room keys), or its outgoing requests (key
   * uploads, to-device messages, backup), which are tried again after the next batch.
   */
  | 'crypto';

/** The second argument of `sync.error`. */
export interface SyncErrorInfo {
  /** Which step failed. */
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
export type MessageEventContent = Record<string, unknown> & {
  /** `m.text`, `m.notice`, `m.image`, … */
  msgtype?: string;
  /** The plain-text body. */
  body?: string;
};

/** `m.typing`: the users typing in the room now. */
export interface TypingEvent extends BasicEvent {
  /** Always `m.typing`. */
  type: 'm.typing';
  /** The users typing now. */
  content: {
    /** Their user IDs. */
    user_ids: string[];
  };
}

/** `m.receipt`: event ID → receipt type → user ID → `{ ts, thread_id? }`. */
export interface ReceiptEvent extends BasicEvent {
  /** Always `m.receipt`. */
  type: 'm.receipt';
  /** Event ID → receipt type (`m.read`, `m.read.private`) → user ID → the receipt. */
  content: Record<
    string,
    Record<
      string,
      Record<
        string,
        {
          /** When the receipt was sent, in ms since the epoch. */
          ts?: number;
          /** The thread it is for (`main` for the main timeline), when threaded. */
          thread_id?: string;
        }
      >
    >
  >;
}

/** `m.presence`: a user's presence; `sender` is the user. */
export interface PresenceEvent extends ToDeviceEvent {
  /** Always `m.presence`. */
  type: 'm.presence';
  /** The presence, as the server reports it. */
  content: {
    /** The user's state. */
    presence: 'online' | 'offline' | 'unavailable';
    /** Milliseconds since the user was last active. */
    last_active_ago?: number;
    /** Whether the user is active right now. */
    currently_active?: boolean;
    /** A status message the user set. */
    status_msg?: string;
    /** The user's avatar (mxc:// URI). */
    avatar_url?: string;
    /** The user's display name. */
    displayname?: string;
  };
}

/** The `room.timeline` event: a room's timeline in one batch, as the loop delivers it. */
export interface RoomTimeline {
  /** The room's ID. */
  roomId: string;
  /** In timeline order, the events of a filled gap first. */
  events: ClientEvent[];
  /** True when events before these were not delivered (a `room.gap` event says why). */
  limited: boolean;
  /** Where to page backwards from to get what is older than these events. */
  prevBatch: string | undefined;
  /** The section of the batch the room is in: `join`, or `leave` for a room the user left. */
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
  /**
   * An encrypted timeline event that could not be decrypted (yet): it is also on
   * `room.event` as `m.room.encrypted`. When its key arrives later (a to-device message, a
   * backup restore) the decrypted event is delivered on `room.event`, `room.message`, …
   * once, in a later batch.
   */
  'room.undecryptable': [roomId: string, event: ClientEvent, info: UndecryptableInfo];
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
  /** Account data of a room (tags, fully-read markers, …). */
  'room.account_data': [roomId: string, event: BasicEvent];
  /** A presence update of a user. */
  presence: [event: PresenceEvent];
  /** Who is typing in a room now. */
  typing: [roomId: string, event: TypingEvent];
  /** Read receipts in a room. */
  receipt: [roomId: string, event: ReceiptEvent];
  /** An event sent to this device (end-to-end encryption keys, verification, …). */
  to_device: [event: ToDeviceEvent];
}

/** Names of the events above; listener failures of these are reported through `sync.error`. */
export const SYNC_EVENT_NAMES: ReadonlySet<string> = new Set<keyof SyncEvents>([
  'sync',
  'sync.error',
  'room.gap',
  'room.timeline',
  'room.undecryptable',
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

/** The fields every item of `sync.events()` has. */
export interface SyncItemBase<K extends SyncItemKind, E> {
  /** The part of the sync response it comes from. */
  kind: K;
  /** The event as received (timeline and state events with their `room_id`). */
  event: E;
}

/** An item of `sync.events()` from a room. */
export interface SyncRoomItem<K extends SyncItemKind, E> extends SyncItemBase<K, E> {
  /** The room's ID. */
  roomId: string;
}

/** A timeline or state item of `sync.events()`: from a joined room or one the user left. */
export interface SyncMemberItem<K extends SyncItemKind> extends SyncRoomItem<K, ClientEvent> {
  /** The section of the batch the room is in. */
  membership: 'join' | 'leave';
}

/** A timeline item of `sync.events()`, with the gap flags of its timeline (as in RoomTimeline). */
export interface SyncTimelineItem extends SyncMemberItem<'timeline'> {
  /** True when events before this timeline were not delivered (`session.on('room.gap')` says why). */
  limited: boolean;
  /** Where to page backwards from for what is older than the timeline. */
  prevBatch: string | undefined;
}

/** One event yielded by `session.sync.events()`: the event as received, where it came from, its room. */
export type SyncItem =
  | SyncTimelineItem
  | SyncMemberItem<'state'>
  | SyncRoomItem<'invite', StrippedStateEvent>
  | SyncRoomItem<'ephemeral', BasicEvent>
  | SyncRoomItem<'room_account_data', BasicEvent>
  | SyncItemBase<'account_data', BasicEvent>
  | SyncItemBase<'presence', ToDeviceEvent>
  | SyncItemBase<'to_device', ToDeviceEvent>;

/** Why an event is undecryptable (the third argument of `room.undecryptable`). */
export interface UndecryptableInfo {
  /**
   * The engine's DecryptionErrorCode name: `MissingRoomKey` and `UnknownMessageIndex` may be
   * cured by a key arriving later (the event is then delivered); others
   * (`MismatchedIdentityKeys`, `UnknownSenderDevice`, `MismatchedSender`, `UnableToDecrypt`, …)
   * will not. `CryptoNotStarted`: `session.crypto.start()` was not called.
   */
  code: string;
  /** A readable explanation from the engine. */
  reason: string;
  /** The sender withheld the key (e.g. `m.unverified`), when it said so. */
  withheldCode?: string;
}

/** Set by the encryption hooks on the encrypted events of a batch they could not decrypt; read by the dispatcher. */
export const UNDECRYPTABLE = new WeakMap<object, UndecryptableInfo>();
