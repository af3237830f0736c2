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
}

/**
 * A timeline or state event of a sync response. The server sends these without `room_id`;
 * `sync.once()` and the sync loop set it on each one (from the key of its room), so they
 * are delivered as ClientEvents and can go straight to `rooms.reply` or `rooms.react`.
 */
export type SyncRoomEvent<C = Record<string, unknown>> = ClientEvent<C>;

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
  /** True when the server left out events between the previous batch and these (a gap). */
  limited?: boolean;
  /** Where to page backwards (GET /rooms/{roomId}/messages, dir=b) from the first of these events. */
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
  device_unused_fallback_key_types?: string[];
  presence?: { events: ToDeviceEvent[] };
  account_data?: { events: BasicEvent[] };
  to_device?: { events: ToDeviceEvent[] };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
}
