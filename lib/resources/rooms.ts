import { newTxnId, type RoomEvent } from '../builders/room-event';
import { ENCRYPTION, StateEvent, type PowerLevels } from '../builders/state-event';
import { InvalidResponseError } from '../core/errors';
import { path } from '../core/path';
import type { RequestOptions } from '../core/request';
import { check, isObject } from '../core/validate';
import type { ClientEvent } from '../types';
import { RoomMessaging } from './room-messaging';

/**
 * The default state of a new room: `private_chat` (invite only, shared history, guests can
 * join), `trusted_private_chat` (the same, invitees get the creator's power level),
 * `public_chat` (anyone may join, guests may not). By default the server derives it from
 * `visibility`.
 */
export type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';
/** Whether a room is listed in the server's published room directory. */
export type Visibility = 'public' | 'private';
/** A user's membership state in a room (`m.room.member`'s `membership`). */
export type Membership = 'join' | 'invite' | 'knock' | 'leave' | 'ban';

/** A third-party invite at room creation; it needs an identity server. */
export interface Invite3pid {
  /** The identity server to look the address up on (host and port). */
  idServer: string;
  /** An access token registered with that identity server. */
  idAccessToken: string;
  /** The kind of address, e.g. `email`. */
  medium: string;
  /** The invitee's address. */
  address: string;
}

/** A state event set at creation: a StateEvent without the roomId. */
export interface InitialStateEvent {
  /** The event type, e.g. `m.room.join_rules`. */
  type: string;
  /** The state key; `''` when absent. */
  stateKey?: string;
  /** The event's content. */
  content: Record<string, unknown>;
}

/** What `rooms.create` takes (all optional; sent in the spec's snake_case). */
export interface CreateRoomOptions {
  /** In the published room directory or not; `private` by default. */
  visibility?: Visibility;
  /** The local part of an alias to create, e.g. `team` for #team:server. */
  roomAliasName?: string;
  /** The room's name (an `m.room.name` event); wins over one in `initialState`. */
  name?: string;
  /** The room's plain-text topic (an `m.room.topic` event); wins over one in `initialState`. */
  topic?: string;
  /** User IDs to invite. */
  invite?: string[];
  /** Third-party IDs (email addresses) to invite through an identity server. */
  invite3pid?: Invite3pid[];
  /** The room version, e.g. `'11'`; the server's default when absent (400 M_UNSUPPORTED_ROOM_VERSION if unknown). */
  roomVersion?: string;
  /** Extra content of the `m.room.create` event, e.g. `{ 'm.federate': false }` or a `type` like `m.space`. */
  creationContent?: Record<string, unknown>;
  /** State events to set at creation; they win over the preset's. */
  initialState?: InitialStateEvent[];
  /** The default state for the kind of room; the server derives it from `visibility` when absent. */
  preset?: Preset;
  /** Marks the invites as a direct chat (`is_direct` on their `m.room.member` events). */
  isDirect?: boolean;
  /** Applied on top of the default `m.room.power_levels` content, e.g. `{ events_default: 50 }`. */
  powerLevelContentOverride?: Record<string, unknown>;
  /** Adds `m.room.encryption` (`m.megolm.v1.aes-sha2`) to the initial state: an end-to-end encrypted room. */
  encrypted?: boolean;
}

/** Proof of a third-party invite (spec: definitions/third_party_signed.yaml), sent as is: it is signed. */
export interface ThirdPartySigned {
  /** The user who issued the invite. */
  sender: string;
  /** The invitee's user ID. */
  mxid: string;
  /** The state key of the `m.third_party_invite` event. */
  token: string;
  /** Signatures of the whole object: server name → key ID → signature. */
  signatures: Record<string, Record<string, string>>;
}

/** What `rooms.join` takes. */
export interface JoinOptions {
  /** Servers to try the join through (needed for a room ID the server does not know). */
  via?: string[];
  /** Why the user joins; shown in the membership event. */
  reason?: string;
  /** The signed proof of a third-party invite this join accepts. */
  thirdPartySigned?: ThirdPartySigned;
}

/** An answer naming a room: `rooms.create` and `rooms.join`. */
export interface RoomIdResponse {
  /** The room's ID. */
  room_id: string;
}

/** An answer naming the event a call created: every send, state event and redaction. */
export interface EventIdResponse {
  /** The new event's ID. */
  event_id: string;
}

/** The answer of GET /joined_rooms. */
export interface JoinedRooms {
  /** The IDs of the rooms the user is joined to. */
  joined_rooms: string[];
}

/** `m.room.member` content (spec: m.room.member), as far as the SDK types it; nothing in it is checked. */
export interface MemberContent {
  /** The user's membership. */
  membership: Membership;
  /** The user's display name in the room; absent or null when none. */
  displayname?: string | null;
  /** The user's avatar in the room (mxc:// URI). */
  avatar_url?: string;
  /** The reason given for the change (a kick, a ban, a leave). */
  reason?: string;
  /** On an invite: set by the inviter when the room is a direct chat. */
  is_direct?: boolean;
  [field: string]: unknown;
}

/** What `rooms.members` takes. */
export interface MembersOptions {
  /** A pagination token: the membership at that point of the timeline. */
  at?: string;
  /** Only members with this membership. */
  membership?: Membership;
  /** Leave out members with this membership. */
  notMembership?: Membership;
}

/** The answer of GET /rooms/{roomId}/members. */
export interface Members {
  /** The room's `m.room.member` state events. */
  chunk: ClientEvent<MemberContent>[];
}

/** The answer of GET /rooms/{roomId}/joined_members. */
export interface JoinedMembers {
  /** Each joined user's ID → their profile in the room. */
  joined: Record<
    string,
    {
      /** Their display name in the room, if any. */
      display_name?: string;
      /** Their avatar in the room (mxc:// URI), if any. */
      avatar_url?: string;
    }
  >;
}

/** What `rooms.messages` takes. */
export interface MessagesOptions {
  /** Where to start; by default the end of the timeline (dir 'b') or its start (dir 'f'). */
  from?: string;
  /** 'b' (backwards, the default) or 'f'. */
  dir?: 'b' | 'f';
  /** A token to stop at (a `prev_batch` / `next_batch` of sync, or an `end`). */
  to?: string;
  /** The most events to return (at least 1); the server's default is 10. */
  limit?: number;
  /** A RoomEventFilter, sent as JSON. */
  filter?: Record<string, unknown>;
}

/** One page of a room's timeline (GET /rooms/{roomId}/messages). */
export interface Messages {
  /** The token of the page's start (the `from` given, when one was). */
  start: string;
  /** Absent when there is nothing more in this direction. */
  end?: string;
  /**
   * The events: newest first for `dir: 'b'`, oldest first for `'f'`. An empty chunk does not
   * mean the end; only a missing `end` does.
   */
  chunk: ClientEvent[];
  /** State events needed to show the chunk (e.g. members, with lazy loading in the filter). */
  state?: ClientEvent[];
}

/** A room of the published room directory. */
export interface PublicRoom {
  /** The room's ID. */
  room_id: string;
  /** How many users are joined. */
  num_joined_members: number;
  /** Whether users may read it without joining. */
  world_readable: boolean;
  /** Whether guest users may join. */
  guest_can_join: boolean;
  /** The room's canonical alias, if any. */
  canonical_alias?: string;
  /** The room's name, if any. */
  name?: string;
  /** The room's plain-text topic, if it has one. */
  topic?: string;
  /** The room's avatar (mxc:// URI), if any. */
  avatar_url?: string;
  /** The room's join rule; `public` when absent. */
  join_rule?: string;
  /** The room's type from `m.room.create` (e.g. `m.space`), if any. */
  room_type?: string;
}

/** A page of the published room directory. */
export interface PublicRooms {
  /** The rooms of this page. */
  chunk: PublicRoom[];
  /** Pass as `since` for the next page; absent on the last page. */
  next_batch?: string;
  /** Pass as `since` for the previous page; absent on the first page. */
  prev_batch?: string;
  /** The server's estimate of how many rooms are published, if it has one. */
  total_room_count_estimate?: number;
}

/** What `rooms.publicRooms` takes. */
export interface PublicRoomsOptions {
  /** The most rooms to return (at least 1). */
  limit?: number;
  /** A `next_batch` or `prev_batch` of an earlier page. */
  since?: string;
  /** Another server whose directory to list. */
  server?: string;
}

/** The search of `rooms.searchPublicRooms`. */
export interface PublicRoomsFilter {
  /** Text to look for in the rooms' name, topic, alias, … */
  genericSearchTerm?: string;
  /** Room types to include; `null` stands for rooms without a type. */
  roomTypes?: (string | null)[];
}

/** What `rooms.searchPublicRooms` takes besides the filter. */
export interface SearchPublicRoomsOptions extends PublicRoomsOptions {
  /** Include the rooms of every network the server's application services bridge (default false). */
  includeAllNetworks?: boolean;
  /** Only the rooms of this bridged network (an `instance_id` of GET /thirdparty/protocols); not with `includeAllNetworks`. */
  thirdPartyInstanceId?: string;
}

/** The answer of GET /directory/room/{roomAlias}. */
export interface AliasResolution {
  /** The room the alias points to. */
  room_id: string;
  /** Servers that know the room, to join through (`via`). */
  servers: string[];
}

const PRESETS: readonly Preset[] = ['private_chat', 'public_chat', 'trusted_private_chat'];
const VISIBILITIES: readonly Visibility[] = ['public', 'private'];
const MEMBERSHIPS: readonly Membership[] = ['join', 'invite', 'knock', 'leave', 'ban'];
const TOKEN = { max: 4096 };
const REASON = { max: 65536, multiline: true };

function checkReason(opts: { reason?: string }): void {
  check.object('opts', opts);
  check.optional(opts.reason, (v) => check.string('reason', v, REASON));
}

function checkCreate(o: CreateRoomOptions): void {
  check.object('opts', o);
  check.optional(o.visibility, (v) => check.oneOf('visibility', v, VISIBILITIES));
  check.optional(o.roomAliasName, (v) => check.string('roomAliasName', v, { max: 255 }));
  check.optional(o.name, (v) => check.string('name', v, { max: 255 }));
  check.optional(o.topic, (v) => check.string('topic', v, { max: 65536, multiline: true }));
  check.optional(o.invite, (v) => check.array('invite', v, check.userId));
  check.optional(o.invite3pid, (v) =>
    check.array('invite3pid', v, (name, item) => {
      const i = check.object(name, item) as Partial<Invite3pid>;
      for (const field of ['idServer', 'idAccessToken', 'medium', 'address'] as const) {
        check.string(`${name}.${field}`, i[field], { max: 4096 });
      }
    }),
  );
  check.optional(o.roomVersion, (v) => check.string('roomVersion', v, { max: 255 }));
  check.optional(o.creationContent, (v) => check.object('creationContent', v));
  check.optional(o.initialState, (v) =>
    check.array('initialState', v, (name, item) => {
      const e = check.object(name, item) as Partial<InitialStateEvent>;
      check.string(`${name}.type`, e.type, { max: 255 });
      check.optional(e.stateKey, (k) => check.string(`${name}.stateKey`, k, { max: 255, allowEmpty: true }));
      check.object(`${name}.content`, e.content);
    }),
  );
  check.optional(o.preset, (v) => check.oneOf('preset', v, PRESETS));
  check.optional(o.isDirect, (v) => check.bool('isDirect', v));
  check.optional(o.powerLevelContentOverride, (v) => check.object('powerLevelContentOverride', v));
  check.optional(o.encrypted, (v) => check.bool('encrypted', v));
}

/** `/rooms/{roomId}/state/{type}/{stateKey}`; an empty key ends the path with the slash. */
function statePath(roomId: string, type: string, stateKey: string): string {
  return stateKey === ''
    ? path`/_matrix/client/v3/rooms/${roomId}/state/${type}/`
    : path`/_matrix/client/v3/rooms/${roomId}/state/${type}/${stateKey}`;
}

/** `session.rooms`: rooms, membership, timeline, state, sending, redaction, the directory, aliases, typing and receipts. */
export class Rooms extends RoomMessaging {
  /**
   * POST /createRoom. Not retried once it may have reached the server: a retry could make a
   * second room. With `encrypted: true` the room is end-to-end encrypted from the start.
   *
   * @param opts Name, topic, invites, preset, initial state, … (CreateRoomOptions).
   * @throws {ValidationError} on bad options; nothing is sent.
   * @throws {MatrixError} e.g. 400 M_ROOM_IN_USE (the alias is taken), 400 M_UNSUPPORTED_ROOM_VERSION.
   * @throws {InvalidResponseError} when the reply has no `room_id`.
   * @example
   * const { room_id } = await session.rooms.create({ name: 'Plans', preset: 'private_chat', invite: ['@bob:example.org'] });
   */
  async create(opts: CreateRoomOptions = {}, options?: RequestOptions): Promise<RoomIdResponse> {
    checkCreate(opts);
    const initialState = opts.initialState?.map((e) => ({ type: e.type, state_key: e.stateKey ?? '', content: e.content })) ?? [];
    if (opts.encrypted && !initialState.some((e) => e.type === ENCRYPTION.type && e.state_key === '')) {
      initialState.push({ type: ENCRYPTION.type, state_key: '', content: { ...ENCRYPTION.content } });
    }
    const body = {
      visibility: opts.visibility,
      room_alias_name: opts.roomAliasName,
      name: opts.name,
      topic: opts.topic,
      invite: opts.invite,
      invite_3pid: opts.invite3pid?.map((i) => ({
        id_server: i.idServer,
        id_access_token: i.idAccessToken,
        medium: i.medium,
        address: i.address,
      })),
      room_version: opts.roomVersion,
      creation_content: opts.creationContent,
      initial_state: initialState.length > 0 || opts.initialState ? initialState : undefined,
      preset: opts.preset,
      is_direct: opts.isDirect,
      power_level_content_override: opts.powerLevelContentOverride,
    };
    const res = await this.core.request<RoomIdResponse>({ method: 'POST', path: '/_matrix/client/v3/createRoom', body, required: ['room_id'] }, options);
    for (const e of initialState) if (typeof res.room_id === 'string') this.session.crypto.stateSent(res.room_id, e.type, e.content);
    return res;
  }

  /**
   * POST /join/{roomIdOrAlias}. Joining twice changes nothing, so it is retried like a read.
   *
   * @param roomIdOrAlias A room ID (`!…`) or alias (`#…:server`).
   * @param opts `via` (servers to join through: needed for a room ID the server does not
   *   know), `reason`, `thirdPartySigned`.
   * @throws {ValidationError} a malformed ID, alias or server name; nothing is sent.
   * @throws {MatrixError} e.g. 403 M_FORBIDDEN (not invited, banned), 404 M_NOT_FOUND (unknown alias).
   * @example
   * await session.rooms.join('#general:example.org');
   * await session.rooms.join('!abc:other.org', { via: ['other.org'] });
   */
  async join(roomIdOrAlias: string, opts: JoinOptions = {}, options?: RequestOptions): Promise<RoomIdResponse> {
    check.roomIdOrAlias('roomIdOrAlias', roomIdOrAlias);
    checkReason(opts);
    check.optional(opts.via, (v) => check.array('via', v, check.serverName));
    check.optional(opts.thirdPartySigned, (v) => {
      check.object('thirdPartySigned', v);
      check.userId('thirdPartySigned.sender', v.sender);
      check.userId('thirdPartySigned.mxid', v.mxid);
      check.string('thirdPartySigned.token', v.token, { max: 4096 });
      check.object('thirdPartySigned.signatures', v.signatures);
    });
    return this.core.request(
      {
        method: 'POST',
        path: path`/_matrix/client/v3/join/${roomIdOrAlias}`,
        query: { via: opts.via },
        body: { reason: opts.reason, third_party_signed: opts.thirdPartySigned },
        idempotency: 'safe',
        required: ['room_id'],
      },
      options,
    );
  }

  /** POST /rooms/{roomId}/leave (also rejects an invite). */
  async leave(roomId: string, opts: { reason?: string } = {}, options?: RequestOptions): Promise<void> {
    check.roomId('roomId', roomId);
    checkReason(opts);
    await this.core.request({ method: 'POST', path: path`/_matrix/client/v3/rooms/${roomId}/leave`, body: { reason: opts.reason } }, options);
  }

  /** POST /rooms/{roomId}/forget: drops a left room from the user's history. */
  async forget(roomId: string, options?: RequestOptions): Promise<void> {
    check.roomId('roomId', roomId);
    await this.core.request({ method: 'POST', path: path`/_matrix/client/v3/rooms/${roomId}/forget`, body: {}, idempotency: 'safe' }, options);
  }

  /** GET /joined_rooms. */
  async joined(options?: RequestOptions): Promise<JoinedRooms> {
    return this.core.request({ method: 'GET', path: '/_matrix/client/v3/joined_rooms', required: ['joined_rooms'] }, options);
  }

  /** POST /rooms/{roomId}/invite. */
  async invite(roomId: string, userId: string, opts: { reason?: string } = {}, options?: RequestOptions): Promise<void> {
    return this.#membership('invite', roomId, userId, opts, options);
  }

  /** POST /rooms/{roomId}/kick. */
  async kick(roomId: string, userId: string, opts: { reason?: string } = {}, options?: RequestOptions): Promise<void> {
    return this.#membership('kick', roomId, userId, opts, options);
  }

  /** POST /rooms/{roomId}/ban (kicks the user too). */
  async ban(roomId: string, userId: string, opts: { reason?: string } = {}, options?: RequestOptions): Promise<void> {
    return this.#membership('ban', roomId, userId, opts, options);
  }

  /** POST /rooms/{roomId}/unban. */
  async unban(roomId: string, userId: string, opts: { reason?: string } = {}, options?: RequestOptions): Promise<void> {
    return this.#membership('unban', roomId, userId, opts, options);
  }

  /** GET /rooms/{roomId}/members; `membership` and `notMembership` together mean either. */
  async members(roomId: string, opts: MembersOptions = {}, options?: RequestOptions): Promise<Members> {
    check.roomId('roomId', roomId);
    check.object('opts', opts);
    check.optional(opts.at, (v) => check.string('at', v, TOKEN));
    check.optional(opts.membership, (v) => check.oneOf('membership', v, MEMBERSHIPS));
    check.optional(opts.notMembership, (v) => check.oneOf('notMembership', v, MEMBERSHIPS));
    return this.core.request(
      {
        method: 'GET',
        path: path`/_matrix/client/v3/rooms/${roomId}/members`,
        query: { at: opts.at, membership: opts.membership, not_membership: opts.notMembership },
        required: ['chunk'],
      },
      options,
    );
  }

  /** GET /rooms/{roomId}/joined_members (the caller must be joined). */
  async joinedMembers(roomId: string, options?: RequestOptions): Promise<JoinedMembers> {
    check.roomId('roomId', roomId);
    return this.core.request({ method: 'GET', path: path`/_matrix/client/v3/rooms/${roomId}/joined_members`, required: ['joined'] }, options);
  }

  /**
   * GET /rooms/{roomId}/messages: one page of the timeline; pass `end` back as `from` for the
   * next. No `end` means there is nothing more in that direction.
   *
   * @param opts `from`, `dir` (`'b'`, the default, or `'f'`), `to`, `limit`, `filter` (a RoomEventFilter).
   * @throws {ValidationError} on bad options; nothing is sent.
   * @throws {MatrixError} e.g. 403 M_FORBIDDEN when the user may not read the room.
   * @example
   * let page = await session.rooms.messages(roomId, { limit: 20, filter: { types: ['m.room.message'] } });
   * if (page.end) page = await session.rooms.messages(roomId, { from: page.end, limit: 20 });
   */
  async messages(roomId: string, opts: MessagesOptions = {}, options?: RequestOptions): Promise<Messages> {
    check.roomId('roomId', roomId);
    check.object('opts', opts);
    const { from, dir = 'b', to, limit, filter } = opts;
    check.optional(from, (v) => check.string('from', v, TOKEN));
    check.oneOf('dir', dir, ['b', 'f'] as const);
    check.optional(to, (v) => check.string('to', v, TOKEN));
    check.optional(limit, (v) => check.int('limit', v, { min: 1 }));
    check.optional(filter, (v) => check.object('filter', v));
    return this.core.request(
      {
        method: 'GET',
        path: path`/_matrix/client/v3/rooms/${roomId}/messages`,
        query: { from, dir, to, limit, filter: filter && JSON.stringify(filter) },
        required: ['start', 'chunk'],
      },
      options,
    );
  }

  /** GET /rooms/{roomId}/state: every current state event (or the state when the user left). */
  async state(roomId: string, options?: RequestOptions): Promise<ClientEvent[]> {
    check.roomId('roomId', roomId);
    return this.core.request({ method: 'GET', path: path`/_matrix/client/v3/rooms/${roomId}/state`, returnsArray: true }, options);
  }

  /**
   * GET /rooms/{roomId}/state/{eventType}/{stateKey}: the content, or with `format: 'event'`
   * (spec v1.16) the whole event.
   */
  async stateEvent<T = Record<string, unknown>>(
    roomId: string,
    type: string,
    stateKey = '',
    opts: { format?: 'content' | 'event' } = {},
    options?: RequestOptions,
  ): Promise<T> {
    check.roomId('roomId', roomId);
    check.string('type', type, { max: 255 });
    check.string('stateKey', stateKey, { max: 255, allowEmpty: true });
    check.object('opts', opts);
    check.optional(opts.format, (v) => check.oneOf('format', v, ['content', 'event'] as const));
    return this.core.request({ method: 'GET', path: statePath(roomId, type, stateKey), query: { format: opts.format } }, options);
  }

  /** GET /rooms/{roomId}/event/{eventId}. */
  async event(roomId: string, eventId: string, options?: RequestOptions): Promise<ClientEvent> {
    check.roomId('roomId', roomId);
    check.eventId('eventId', eventId);
    return this.core.request(
      { method: 'GET', path: path`/_matrix/client/v3/rooms/${roomId}/event/${eventId}`, required: ['event_id', 'type'] },
      options,
    );
  }

  /**
   * PUT /rooms/{roomId}/send/{eventType}/{txnId} with an event from `RoomEvent.*`; retries
   * reuse its txnId. In an encrypted room the event is encrypted and sent as
   * `m.room.encrypted` (the one place every send helper goes through); there, without
   * `crypto.start()`, it fails with CryptoNotStartedError instead of going out in clear.
   *
   * @param event An event from `RoomEvent.*` (or `{ roomId, type, content, txnId }`); sending
   *   the same object again reuses its txnId, so the server creates the event once.
   * @throws {ValidationError} a malformed room ID, type, txnId or content (not JSON); nothing is sent.
   * @throws {CryptoNotStartedError} in an encrypted room while encryption is not started.
   * @throws {CryptoError} in an encrypted room with an algorithm other than `m.megolm.v1.aes-sha2`.
   * @throws {MatrixError} e.g. 403 M_FORBIDDEN (not in the room, or too low a power level).
   * @example
   * const { event_id } = await session.rooms.sendEvent(RoomEvent.text(roomId, 'Deploy finished'));
   */
  async sendEvent(event: RoomEvent<object>, options?: RequestOptions): Promise<EventIdResponse> {
    check.object('event', event);
    check.roomId('event.roomId', event.roomId);
    check.string('event.type', event.type, { max: 255 });
    check.object('event.content', event.content);
    check.string('event.txnId', event.txnId, { max: 255 });
    // Every segment and the body are checked before anything is asked or sent.
    const plainPath = path`/_matrix/client/v3/rooms/${event.roomId}/send/${event.type}/${event.txnId}`;
    check.json('body', event.content);
    const wire = await this.session.crypto.wireEvent(event, options);
    return this.core.request(
      {
        method: 'PUT',
        path: wire.type === event.type ? plainPath : path`/_matrix/client/v3/rooms/${event.roomId}/send/${wire.type}/${event.txnId}`,
        body: wire.content,
        idempotency: 'safe',
        required: ['event_id'],
      },
      options,
    );
  }

  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey} with an event from `StateEvent.*`. */
  async sendStateEvent(event: StateEvent<object>, options?: RequestOptions): Promise<EventIdResponse> {
    check.object('event', event);
    check.roomId('event.roomId', event.roomId);
    check.string('event.type', event.type, { max: 255 });
    check.string('event.stateKey', event.stateKey, { max: 255, allowEmpty: true });
    check.object('event.content', event.content);
    const res = await this.core.request<EventIdResponse>(
      {
        method: 'PUT',
        path: statePath(event.roomId, event.type, event.stateKey),
        body: event.content,
        idempotency: 'safe',
        required: ['event_id'],
      },
      options,
    );
    if (event.stateKey === '') this.session.crypto.stateSent(event.roomId, event.type, event.content);
    return res;
  }

  /**
   * Sets one user's power level: reads the room's `m.room.power_levels`, changes that user's
   * entry and writes the whole event back, every other user and setting as it was. A level
   * equal to `users_default` removes the entry (the same effect, a smaller event). Matrix has
   * no compare-and-swap for state: a power-level change someone else makes between the read
   * and the write is overwritten, so one writer per room is the safe use. Lowering your own
   * level cannot be undone by you.
   *
   * @param level An integer in the canonical-JSON range (±(2^53 - 1)).
   * @throws {ValidationError} bad input, before any request.
   * @throws {MatrixError} e.g. 403 when the session user may not change power levels, or
   *   404 when the room has no `m.room.power_levels` event.
   * @example
   * await session.rooms.setPowerLevel(roomId, '@mod:example.org', 50);
   */
  async setPowerLevel(roomId: string, userId: string, level: number, options?: RequestOptions): Promise<EventIdResponse> {
    check.roomId('roomId', roomId);
    check.userId('userId', userId);
    check.int('level', level, { min: -Number.MAX_SAFE_INTEGER });
    const current = await this.stateEvent<PowerLevels>(roomId, 'm.room.power_levels', '', {}, options);
    if (!isObject(current)) {
      throw new InvalidResponseError({ method: 'GET', path: statePath(roomId, 'm.room.power_levels', '') }, 200, 'the power levels are not an object');
    }
    // The server's values are kept as they are; only this user's entry changes.
    const users = (isObject(current.users) ? { ...current.users } : {}) as Record<string, number>;
    const usersDefault = typeof current.users_default === 'number' ? current.users_default : 0;
    if (level === usersDefault) delete users[userId];
    else users[userId] = level;
    return this.sendStateEvent(StateEvent.powerLevels(roomId, { ...current, users }), options);
  }

  /** PUT /rooms/{roomId}/redact/{eventId}/{txnId}; the txnId is fixed before the first attempt. */
  async redact(roomId: string, eventId: string, opts: { reason?: string; txnId?: string } = {}, options?: RequestOptions): Promise<EventIdResponse> {
    check.roomId('roomId', roomId);
    check.eventId('eventId', eventId);
    checkReason(opts);
    check.optional(opts.txnId, (v) => check.string('txnId', v, { max: 255 }));
    const txnId = opts.txnId ?? newTxnId();
    return this.core.request(
      {
        method: 'PUT',
        path: path`/_matrix/client/v3/rooms/${roomId}/redact/${eventId}/${txnId}`,
        body: { reason: opts.reason },
        idempotency: 'safe',
        required: ['event_id'],
      },
      options,
    );
  }

  /** GET /directory/list/room/{roomId}: whether the room is in the published room directory. */
  async getVisibility(
    roomId: string,
    options?: RequestOptions,
  ): Promise<{
    /** `public` when the room is published in the directory. */
    visibility: Visibility;
  }> {
    check.roomId('roomId', roomId);
    return this.core.request(
      { method: 'GET', path: path`/_matrix/client/v3/directory/list/room/${roomId}`, auth: 'optional', required: ['visibility'] },
      options,
    );
  }

  /** PUT /directory/list/room/{roomId}: publishes the room in the directory, or withdraws it. */
  async setVisibility(roomId: string, visibility: Visibility, options?: RequestOptions): Promise<void> {
    check.roomId('roomId', roomId);
    check.oneOf('visibility', visibility, VISIBILITIES);
    await this.core.request(
      { method: 'PUT', path: path`/_matrix/client/v3/directory/list/room/${roomId}`, body: { visibility }, idempotency: 'safe' },
      options,
    );
  }

  /** GET /publicRooms: a page of the published room directory. */
  async publicRooms(opts: PublicRoomsOptions = {}, options?: RequestOptions): Promise<PublicRooms> {
    checkDirectoryPage(opts);
    return this.core.request(
      {
        method: 'GET',
        path: '/_matrix/client/v3/publicRooms',
        query: { limit: opts.limit, since: opts.since, server: opts.server },
        auth: 'optional',
        required: ['chunk'],
      },
      options,
    );
  }

  /** POST /publicRooms: searches the directory. A read, so it is retried like one. */
  async searchPublicRooms(filter: PublicRoomsFilter = {}, opts: SearchPublicRoomsOptions = {}, options?: RequestOptions): Promise<PublicRooms> {
    check.object('filter', filter);
    check.optional(filter.genericSearchTerm, (v) => check.string('filter.genericSearchTerm', v, { max: 4096 }));
    check.optional(filter.roomTypes, (v) =>
      check.array('filter.roomTypes', v, (name, t) => (t === null ? t : check.string(name, t, { max: 255 }))),
    );
    checkDirectoryPage(opts);
    check.optional(opts.includeAllNetworks, (v) => check.bool('includeAllNetworks', v));
    check.optional(opts.thirdPartyInstanceId, (v) => check.string('thirdPartyInstanceId', v, { max: 4096 }));
    return this.core.request(
      {
        method: 'POST',
        path: '/_matrix/client/v3/publicRooms',
        query: { server: opts.server },
        body: {
          limit: opts.limit,
          since: opts.since,
          filter: { generic_search_term: filter.genericSearchTerm, room_types: filter.roomTypes },
          include_all_networks: opts.includeAllNetworks,
          third_party_instance_id: opts.thirdPartyInstanceId,
        },
        idempotency: 'safe',
        required: ['chunk'],
      },
      options,
    );
  }

  /** GET /directory/room/{roomAlias}: the room an alias points to. */
  async resolveAlias(alias: string, options?: RequestOptions): Promise<AliasResolution> {
    check.roomAlias('alias', alias);
    return this.core.request(
      { method: 'GET', path: path`/_matrix/client/v3/directory/room/${alias}`, auth: 'optional', required: ['room_id'] },
      options,
    );
  }

  /**
   * PUT /directory/room/{roomAlias}. Left 'unsafe': a repeat after a lost reply would
   * fail with M_ROOM_IN_USE and hide that the first attempt worked.
   */
  async setAlias(alias: string, roomId: string, options?: RequestOptions): Promise<void> {
    check.roomAlias('alias', alias);
    check.roomId('roomId', roomId);
    await this.core.request({ method: 'PUT', path: path`/_matrix/client/v3/directory/room/${alias}`, body: { room_id: roomId } }, options);
  }

  /** DELETE /directory/room/{roomAlias}. Not repeated either: a second delete is a 404. */
  async deleteAlias(alias: string, options?: RequestOptions): Promise<void> {
    check.roomAlias('alias', alias);
    await this.core.request({ method: 'DELETE', path: path`/_matrix/client/v3/directory/room/${alias}` }, options);
  }

  async #membership(
    action: 'invite' | 'kick' | 'ban' | 'unban',
    roomId: string,
    userId: string,
    opts: { reason?: string },
    options?: RequestOptions,
  ): Promise<void> {
    check.roomId('roomId', roomId);
    check.userId('userId', userId);
    checkReason(opts);
    await this.core.request(
      { method: 'POST', path: path`/_matrix/client/v3/rooms/${roomId}/${action}`, body: { user_id: userId, reason: opts.reason } },
      options,
    );
  }
}

function checkDirectoryPage(opts: PublicRoomsOptions): void {
  check.object('opts', opts);
  check.optional(opts.limit, (v) => check.int('limit', v, { min: 1 }));
  check.optional(opts.since, (v) => check.string('since', v, TOKEN));
  check.optional(opts.server, (v) => check.serverName('server', v));
}
