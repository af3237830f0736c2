import { check } from '../core/validate';

/** A state event ready for `rooms.sendStateEvent`. */
export interface StateEvent<C = Record<string, unknown>> {
  /** The room to set it in. */
  readonly roomId: string;
  /** The event type, e.g. `m.room.name`. */
  readonly type: string;
  /** The state key: `''` for room-wide state, a user ID for per-user state; may contain `/`. */
  readonly stateKey: string;
  /** The content, which replaces the current content of that state entirely. */
  readonly content: C;
}

/**
 * Who may join (spec: m.room.join_rules): `public` anyone; `invite` the invited; `knock` the
 * invited, and others may knock to ask; `restricted` members of the rooms in `allow` (others
 * need an invite); `knock_restricted` both; `private` is reserved and unused.
 */
export type JoinRule = 'public' | 'knock' | 'invite' | 'private' | 'restricted' | 'knock_restricted';
/**
 * Who may read the history (spec: m.room.history_visibility): `world_readable` anyone;
 * `shared` members, all of it; `invited` members, from their invite on; `joined` members,
 * from their join on.
 */
export type HistoryVisibility = 'invited' | 'joined' | 'shared' | 'world_readable';
/** Whether guest accounts may join the room (spec: m.room.guest_access). */
export type GuestAccess = 'can_join' | 'forbidden';

/** One entry of a restricted room's `allow` list (spec: m.room.join_rules). */
export interface JoinRuleAllow {
  /** Always `m.room_membership`: membership of another room grants the join. */
  type: 'm.room_membership';
  /** The room whose joined members may join. */
  room_id: string;
}

/** m.room.power_levels content (spec: m.room.power_levels; every field optional here). */
export interface PowerLevels {
  /** The level needed to ban a user (default 50). */
  ban?: number;
  /** The level needed to invite a user (default 0). */
  invite?: number;
  /** The level needed to kick a user (default 50). */
  kick?: number;
  /** The level needed to redact another user's event (default 50). */
  redact?: number;
  /** The level needed to send a message event whose type is not in `events` (default 0). */
  events_default?: number;
  /** The level needed to send a state event whose type is not in `events` (default 50). */
  state_default?: number;
  /** The level of a user not listed in `users` (default 0). */
  users_default?: number;
  /** Event type → the level needed to send it. */
  events?: Record<string, number>;
  /** User ID → that user's level (room version 12: the creators are not listed, they rank above all). */
  users?: Record<string, number>;
  /** Notification key → the level needed to trigger it. */
  notifications?: {
    /** The level needed to notify the whole room with `@room` (default 50). */
    room?: number;
    [key: string]: number | undefined;
  };
}

const JOIN_RULES: readonly JoinRule[] = ['public', 'knock', 'invite', 'private', 'restricted', 'knock_restricted'];
const HISTORY: readonly HistoryVisibility[] = ['invited', 'joined', 'shared', 'world_readable'];
const GUEST: readonly GuestAccess[] = ['can_join', 'forbidden'];

/** The encryption state event content new encrypted rooms get (spec: m.room.encryption). */
export const ENCRYPTION = {
  /** `m.room.encryption`. */
  type: 'm.room.encryption',
  /** The content. */
  content: {
    /** `m.megolm.v1.aes-sha2`, the one algorithm the spec defines for rooms. */
    algorithm: 'm.megolm.v1.aes-sha2',
  },
} as const;

function build<C>(roomId: string, type: string, content: C, stateKey = ''): StateEvent<C> {
  check.roomId('roomId', roomId);
  return { roomId, type, stateKey, content };
}

/** Builders for `rooms.sendStateEvent`, e.g. `StateEvent.joinRules(roomId, 'invite')`. */
export const StateEvent = {
  /** m.room.join_rules; `allow` lists the rooms whose members may join a restricted room. */
  joinRules(roomId: string, rule: JoinRule, allow?: JoinRuleAllow[]) {
    check.oneOf('rule', rule, JOIN_RULES);
    check.optional(allow, (v) =>
      check.array('allow', v, (name, item) => {
        check.object(name, item);
        check.oneOf(`${name}.type`, (item as JoinRuleAllow).type, ['m.room_membership'] as const);
        return check.roomId(`${name}.room_id`, (item as JoinRuleAllow).room_id);
      }),
    );
    return build(roomId, 'm.room.join_rules', {
      /** The join rule. */
      join_rule: rule,
      /** For `restricted` and `knock_restricted`: the rooms whose members may join. */
      allow,
    });
  },

  /** m.room.name; an empty name removes it. */
  name(roomId: string, name: string) {
    check.string('name', name, { max: 255, allowEmpty: true });
    return build(roomId, 'm.room.name', {
      /** The room's name; `''` for none. */
      name,
    });
  },

  /** m.room.topic, in both the plain `topic` and the `m.topic` block (spec v1.15). */
  topic(roomId: string, topic: string) {
    check.string('topic', topic, { max: 65536, allowEmpty: true, multiline: true });
    return build(roomId, 'm.room.topic', {
      /** The topic in plain text. */
      topic,
      /** The topic in the extensible-events form. */
      'm.topic': {
        /** Its renderings: here one, in plain text. */
        'm.text': [
          {
            /** `text/plain`. */
            mimetype: 'text/plain',
            /** The topic. */
            body: topic,
          },
        ],
      },
    });
  },

  /** m.room.avatar: the room's picture, an mxc:// URI; `info` may give its mimetype, size, w and h. */
  avatar(roomId: string, mxcUrl: string, info?: Record<string, unknown>) {
    check.mxcUri('mxcUrl', mxcUrl);
    check.optional(info, (v) => check.object('info', v));
    return build(roomId, 'm.room.avatar', {
      /** The image's mxc:// URI. */
      url: mxcUrl,
      /** What is known of the image (mimetype, size, w, h, thumbnail), if given. */
      info,
    });
  },

  /** m.room.power_levels. The content replaces the whole event: start from the current one. */
  powerLevels(roomId: string, content: PowerLevels) {
    check.object('content', content);
    return build(roomId, 'm.room.power_levels', content);
  },

  /** m.room.history_visibility: who may read the room's history (applies to events sent from now on). */
  historyVisibility(roomId: string, visibility: HistoryVisibility) {
    check.oneOf('visibility', visibility, HISTORY);
    return build(roomId, 'm.room.history_visibility', {
      /** Who may read the history. */
      history_visibility: visibility,
    });
  },

  /** m.room.guest_access: whether guest accounts may join. */
  guestAccess(roomId: string, access: GuestAccess) {
    check.oneOf('access', access, GUEST);
    return build(roomId, 'm.room.guest_access', {
      /** `can_join` or `forbidden`. */
      guest_access: access,
    });
  },

  /**
   * m.room.canonical_alias: the alias clients show for the room, and others it advertises.
   * The send fails with 400 M_BAD_ALIAS when an alias does not point to the room.
   */
  canonicalAlias(roomId: string, alias: string, altAliases?: string[]) {
    check.roomAlias('alias', alias);
    check.optional(altAliases, (v) => check.array('altAliases', v, check.roomAlias));
    return build(roomId, 'm.room.canonical_alias', {
      /** The main alias. */
      alias,
      /** Other aliases of the room, if given. */
      alt_aliases: altAliases,
    });
  },

  /**
   * m.room.encryption with `m.megolm.v1.aes-sha2`: turns on end-to-end encryption in an
   * existing room (it cannot be turned off). Rotation limits are optional.
   */
  encryption(roomId: string, opts: { rotationPeriodMs?: number; rotationPeriodMsgs?: number } = {}) {
    check.object('opts', opts);
    check.optional(opts.rotationPeriodMs, (v) => check.int('rotationPeriodMs', v, { min: 1 }));
    check.optional(opts.rotationPeriodMsgs, (v) => check.int('rotationPeriodMsgs', v, { min: 1 }));
    return build(roomId, ENCRYPTION.type, {
      /** `m.megolm.v1.aes-sha2`. */
      algorithm: ENCRYPTION.content.algorithm,
      /** How long a room key is used before a new one is made, in ms, if given (the spec suggests a week). */
      rotation_period_ms: opts.rotationPeriodMs,
      /** How many messages a room key encrypts before a new one is made, if given (the spec suggests 100). */
      rotation_period_msgs: opts.rotationPeriodMsgs,
    });
  },

  /** Any state event type; the state key defaults to '' and may contain '/'. */
  custom<C extends Record<string, unknown>>(roomId: string, type: string, content: C, stateKey = '') {
    check.string('type', type, { max: 255 });
    check.object('content', content);
    check.string('stateKey', stateKey, { max: 255, allowEmpty: true });
    return build(roomId, type, content, stateKey);
  },
};
