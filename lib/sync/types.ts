import type { BasicEvent, StrippedStateEvent, SyncResponse, SyncRoomEvent, ToDeviceEvent } from '../types';

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
  /** The encryption engine: handing it a batch, or its outgoing requests (key uploads, to-device, backup). */
  | 'crypto';

/** The second argument of `sync.error`. */
export interface SyncErrorInfo {
  source: SyncErrorSource;
  /** For `listener`: the event whose listener failed. For `autoJoin`: the room. */
  event?: string;
  roomId?: string;
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

/** The events the sync loop emits on the session (merged into SessionEvents). */
export interface SyncEvents {
  /** The loop changed state. */
  sync: [state: SyncState, prevState: SyncState, info: SyncStateInfo];
  /** Every failure: of a request (with the delay before the next try), of the store, of a listener of a sync event. */
  'sync.error': [error: unknown, info: SyncErrorInfo];
  /** Every timeline event of a joined or left room, in order. */
  'room.event': [roomId: string, event: SyncRoomEvent];
  /** Timeline events of type `m.room.message`. */
  'room.message': [roomId: string, event: SyncRoomEvent<MessageEventContent>];
  /** State events: a room's `state` block, and the state events of its timeline. */
  'room.state': [roomId: string, event: SyncRoomEvent];
  /**
   * An encrypted timeline event that could not be decrypted (yet): it is also on
   * `room.event` as `m.room.encrypted`. When its key arrives later (a to-device message, a
   * backup restore) the decrypted event is delivered on `room.event`, `room.message`, …
   * once, in a later batch.
   */
  'room.undecryptable': [roomId: string, event: SyncRoomEvent, info: UndecryptableInfo];
  /** Timeline events of type `m.room.redaction`. */
  'room.redaction': [roomId: string, event: SyncRoomEvent];
  /** An invite: the own `m.room.member` invite event (when the server included it) and the stripped room state. */
  'room.invite': [roomId: string, inviteEvent: StrippedStateEvent | undefined, inviteState: StrippedStateEvent[]];
  /** The own membership became `join` (seen in the timeline, or in the state block of an incremental sync). */
  'room.join': [roomId: string, event: SyncRoomEvent];
  /** The room moved to the `leave` section (left, kicked or banned); the own membership event when present. */
  'room.leave': [roomId: string, event: SyncRoomEvent | undefined];
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
  'room.event',
  'room.message',
  'room.state',
  'room.redaction',
  'room.undecryptable',
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

/** One event yielded by `session.sync.events()`: the event as received, where it came from, its room. */
export type SyncItem =
  | { kind: 'timeline'; roomId: string; membership: 'join' | 'leave'; event: SyncRoomEvent }
  | { kind: 'state'; roomId: string; membership: 'join' | 'leave'; event: SyncRoomEvent }
  | { kind: 'invite'; roomId: string; event: StrippedStateEvent }
  | { kind: 'ephemeral'; roomId: string; event: BasicEvent }
  | { kind: 'room_account_data'; roomId: string; event: BasicEvent }
  | { kind: 'account_data'; event: BasicEvent }
  | { kind: 'presence'; event: ToDeviceEvent }
  | { kind: 'to_device'; event: ToDeviceEvent };

/** Why an event is undecryptable (the third argument of `room.undecryptable`). */
export interface UndecryptableInfo {
  /**
   * The engine's DecryptionErrorCode name: `MissingRoomKey` and `UnknownMessageIndex` may be
   * cured by a key arriving later (the event is then delivered); others
   * (`MismatchedIdentityKeys`, `UnknownSenderDevice`, `MismatchedSender`, `UnableToDecrypt`, …)
   * will not. `CryptoNotStarted`: `session.crypto.start()` was not called.
   */
  code: string;
  reason: string;
  /** The sender withheld the key (e.g. `m.unverified`), when it said so. */
  withheldCode?: string;
}

/** Set by the encryption hooks on the encrypted events of a batch they could not decrypt; read by the dispatcher. */
export const UNDECRYPTABLE = new WeakMap<object, UndecryptableInfo>();

/**
 * Internal hooks into the sync loop's batch pipeline (the encryption engine uses them):
 * guard → `receive` → gap fill → `prepare` (may replace timeline events in place and add
 * timeline events, also to rooms not in the batch) → dispatch → save position → `done`.
 */
export interface SyncHooks {
  receive?(body: SyncResponse, signal: AbortSignal): Promise<void>;
  prepare?(body: SyncResponse, signal: AbortSignal): Promise<void>;
  done?(body: SyncResponse): void;
}
