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
}
