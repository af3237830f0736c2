/** Event shapes shared by several groups (spec: definitions/client_event.yaml, sync.yaml). */

/** A room event as the client-server API delivers it (the spec's ClientEvent). */
export interface ClientEvent<C = Record<string, unknown>> {
  /** The event type, e.g. `m.room.message`. */
  type: string;
  /** The body of the event; its shape depends on `type`. Nothing in it is checked. */
  content: C;
  /** The event's ID, unique in the room. */
  event_id: string;
  /** The user who sent it. */
  sender: string;
  /** When the sender's server received it, in ms since the epoch. */
  origin_server_ts: number;
  /** The room it belongs to. */
  room_id: string;
  /** Present on state events: the key of the state it sets (often `''`). */
  state_key?: string;
  /** What the server adds about the event, not signed by the sender. */
  unsigned?: Record<string, unknown> & {
    /** Milliseconds since the event was sent. */
    age?: number;
    /** The transaction ID, on the sender's own events. */
    transaction_id?: string;
    /** The previous content of the state, on state events. */
    prev_content?: unknown;
  };
  /** On `m.room.redaction` (rooms before v11): the event redacted. */
  redacts?: string;
  /** Set on an event the SDK decrypted: its type and content are the cleartext's. */
  encryption?: EventEncryptionInfo;
}

/**
 * How a decrypted event was encrypted (`event.encryption`). The sender's device and keys
 * come from the room key's Olm channel; `shield` is the engine's verdict on trusting them:
 * `none` (the sender's device is verified, or cross-signed by a sender whose identity is
 * not known to have changed), `grey` (the key's authenticity cannot be guaranteed, e.g.
 * restored from a backup) or `red` (the device is not verified by its owner, or unknown).
 */
export interface EventEncryptionInfo {
  /** The algorithm the event was encrypted with. */
  algorithm: 'm.megolm.v1.aes-sha2';
  /** The sender's device ID, when known; untrusted unless `shield` is `none`. */
  senderDevice?: string;
  /** The Curve25519 key (unpadded base64) of the device that created the room key. */
  senderCurve25519Key: string;
  /** The Ed25519 key that device claims, when known. */
  senderClaimedEd25519Key?: string;
  /** The engine's trust verdict: `none`, `grey` or `red`, as described for EventEncryptionInfo. */
  shield: 'none' | 'grey' | 'red';
  /** Why the shield is grey or red, in words to show the user, when the engine gives a reason. */
  shieldMessage?: string;
}

/**
 * A timeline or state event of a sync response. The server sends these without `room_id`;
 * `sync.once()` and the sync loop set it on each one (from the key of its room), so they
 * are delivered as ClientEvents and can go straight to `rooms.reply` or `rooms.react`.
 */
export type SyncRoomEvent<C = Record<string, unknown>> = ClientEvent<C>;

/** A state event reduced to what an invited or knocking user may see. */
export interface StrippedStateEvent {
  /** The event type. */
  type: string;
  /** The key of the state it sets. */
  state_key: string;
  /** The user who sent it. */
  sender: string;
  /** Its content. */
  content: Record<string, unknown>;
}

/** An event with a type and content only: account data, ephemeral events. */
export interface BasicEvent {
  /** The event type. */
  type: string;
  /** Its content. */
  content: Record<string, unknown>;
}

/** An event sent to a device (or a presence update): a BasicEvent with its sender. */
export interface ToDeviceEvent extends BasicEvent {
  /** The user who sent it. */
  sender: string;
}

/** A section of a sync response that holds a list of events. */
export interface EventList<E> {
  /** The events, in order. */
  events: E[];
}

/** A room's timeline in a sync response. */
export interface Timeline {
  /** The newest events of the room since the previous batch, oldest first. */
  events: SyncRoomEvent[];
  /** True when the server left out events between the previous batch and these (a gap). */
  limited?: boolean;
  /** Where to page backwards (GET /rooms/{roomId}/messages, dir=b) from the first of these events. */
  prev_batch?: string;
}

/** A room the user is in, in a sync response. */
export interface JoinedRoom {
  /** The room's new events. */
  timeline?: Timeline;
  /** State before the timeline: all of it on an initial sync, else what changed. */
  state?: EventList<SyncRoomEvent>;
  /** State at the end of the timeline (spec v1.16, when asked for with `use_state_after`). */
  state_after?: EventList<SyncRoomEvent>;
  /** The user's account data for the room. */
  account_data?: EventList<BasicEvent>;
  /** Typing notices and receipts. */
  ephemeral?: EventList<BasicEvent>;
  /** Heroes and member counts, for naming the room. */
  summary?: Record<string, unknown>;
  /** Counts of unread notifications. */
  unread_notifications?: {
    /** Unread highlights (mentions). */
    highlight_count?: number;
    /** Unread notifications. */
    notification_count?: number;
  };
}

/** A room the user left (or was kicked or banned from), in a sync response. */
export interface LeftRoom {
  /** The events up to the leave. */
  timeline?: Timeline;
  /** State before the timeline. */
  state?: EventList<SyncRoomEvent>;
  /** The user's account data for the room. */
  account_data?: EventList<BasicEvent>;
}

/** A room the user is invited to, in a sync response. */
export interface InvitedRoom {
  /** What the user may see of the room's state, the invite itself included. */
  invite_state?: EventList<StrippedStateEvent>;
}

/** A room the user knocked on, in a sync response. */
export interface KnockedRoom {
  /** What the user may see of the room's state, the knock itself included. */
  knock_state?: EventList<StrippedStateEvent>;
}

/** The answer of GET /sync. */
export interface SyncResponse {
  /** The position to ask from next time (`since`). */
  next_batch: string;
  /** Rooms by membership, each a map from room ID to the room's part of the batch. */
  rooms?: {
    /** Rooms the user is in. */
    join?: Record<string, JoinedRoom>;
    /** Rooms the user is invited to. */
    invite?: Record<string, InvitedRoom>;
    /** Rooms the user left. */
    leave?: Record<string, LeftRoom>;
    /** Rooms the user knocked on. */
    knock?: Record<string, KnockedRoom>;
  };
  /** Fallback-key algorithms the server still holds an unused key of (end-to-end encryption). */
  device_unused_fallback_key_types?: string[];
  /** Presence updates. */
  presence?: EventList<ToDeviceEvent>;
  /** Global account data. */
  account_data?: EventList<BasicEvent>;
  /** Events sent to this device. */
  to_device?: EventList<ToDeviceEvent>;
  /** Users whose devices changed, or who no longer share an encrypted room (end-to-end encryption). */
  device_lists?: {
    /** Users whose device list changed. */
    changed?: string[];
    /** Users who no longer share a room with the user. */
    left?: string[];
  };
  /** Unused one-time keys the server holds for this device, by algorithm. */
  device_one_time_keys_count?: Record<string, number>;
}
