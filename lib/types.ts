/** Event shapes shared by several groups (spec: definitions/client_event.yaml, sync.yaml). */

export interface ClientEvent<C = Record<string, unknown>> {
  type: string;
  content: C;
  event_id: string;
  sender: string;
  origin_server_ts: number;
  room_id: string;
  state_key?: string;
  unsigned?: Record<string, unknown> & { age?: number; transaction_id?: string; prev_content?: unknown };
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
  algorithm: 'm.megolm.v1.aes-sha2';
  senderDevice?: string;
  senderCurve25519Key: string;
  senderClaimedEd25519Key?: string;
  shield: 'none' | 'grey' | 'red';
  shieldMessage?: string;
}

/** Timeline and state events inside a sync response carry no room_id. */
export type SyncRoomEvent<C = Record<string, unknown>> = Omit<ClientEvent<C>, 'room_id'>;

export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: Record<string, unknown>;
}

export interface BasicEvent {
  type: string;
  content: Record<string, unknown>;
}

export interface ToDeviceEvent extends BasicEvent {
  sender: string;
}

export interface Timeline {
  events: SyncRoomEvent[];
  limited?: boolean;
  prev_batch?: string;
}

export interface JoinedRoom {
  timeline?: Timeline;
  state?: { events: SyncRoomEvent[] };
  state_after?: { events: SyncRoomEvent[] };
  account_data?: { events: BasicEvent[] };
  ephemeral?: { events: BasicEvent[] };
  summary?: Record<string, unknown>;
  unread_notifications?: { highlight_count?: number; notification_count?: number };
}

export interface LeftRoom {
  timeline?: Timeline;
  state?: { events: SyncRoomEvent[] };
  account_data?: { events: BasicEvent[] };
}

export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoom>;
    invite?: Record<string, { invite_state?: { events: StrippedStateEvent[] } }>;
    leave?: Record<string, LeftRoom>;
    knock?: Record<string, { knock_state?: { events: StrippedStateEvent[] } }>;
  };
  presence?: { events: ToDeviceEvent[] };
  account_data?: { events: BasicEvent[] };
  to_device?: { events: ToDeviceEvent[] };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}
