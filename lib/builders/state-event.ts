import { check } from '../core/validate';

/** A state event ready for `rooms.sendStateEvent`. */
export interface StateEvent<C = Record<string, unknown>> {
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string;
  readonly content: C;
}

export type JoinRule = 'public' | 'knock' | 'invite' | 'private' | 'restricted' | 'knock_restricted';
export type HistoryVisibility = 'invited' | 'joined' | 'shared' | 'world_readable';
export type GuestAccess = 'can_join' | 'forbidden';

/** One entry of a restricted room's `allow` list (spec: m.room.join_rules). */
export interface JoinRuleAllow {
  type: 'm.room_membership';
  room_id: string;
}

/** m.room.power_levels content (spec: m.room.power_levels; every field optional here). */
export interface PowerLevels {
  ban?: number;
  invite?: number;
  kick?: number;
  redact?: number;
  events_default?: number;
  state_default?: number;
  users_default?: number;
  events?: Record<string, number>;
  users?: Record<string, number>;
  notifications?: { room?: number; [key: string]: number | undefined };
}

const JOIN_RULES: readonly JoinRule[] = ['public', 'knock', 'invite', 'private', 'restricted', 'knock_restricted'];
const HISTORY: readonly HistoryVisibility[] = ['invited', 'joined', 'shared', 'world_readable'];
const GUEST: readonly GuestAccess[] = ['can_join', 'forbidden'];

/** The encryption state event content new encrypted rooms get (spec: m.room.encryption). */
export const ENCRYPTION = { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } } as const;

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
    return build(roomId, 'm.room.join_rules', { join_rule: rule, allow });
  },

  /** m.room.name; an empty name removes it. */
  name(roomId: string, name: string) {
    check.string('name', name, { max: 255, allowEmpty: true });
    return build(roomId, 'm.room.name', { name });
  },

  /** m.room.topic, in both the plain `topic` and the `m.topic` block (spec v1.15). */
  topic(roomId: string, topic: string) {
    check.string('topic', topic, { max: 65536, allowEmpty: true, multiline: true });
    return build(roomId, 'm.room.topic', { topic, 'm.topic': { 'm.text': [{ mimetype: 'text/plain', body: topic }] } });
  },

  avatar(roomId: string, mxcUrl: string, info?: Record<string, unknown>) {
    check.mxcUri('mxcUrl', mxcUrl);
    check.optional(info, (v) => check.object('info', v));
    return build(roomId, 'm.room.avatar', { url: mxcUrl, info });
  },

  /** m.room.power_levels. The content replaces the whole event: start from the current one. */
  powerLevels(roomId: string, content: PowerLevels) {
    check.object('content', content);
    return build(roomId, 'm.room.power_levels', content);
  },

  historyVisibility(roomId: string, visibility: HistoryVisibility) {
    check.oneOf('visibility', visibility, HISTORY);
    return build(roomId, 'm.room.history_visibility', { history_visibility: visibility });
  },

  guestAccess(roomId: string, access: GuestAccess) {
    check.oneOf('access', access, GUEST);
    return build(roomId, 'm.room.guest_access', { guest_access: access });
  },

  canonicalAlias(roomId: string, alias: string, altAliases?: string[]) {
    check.roomAlias('alias', alias);
    check.optional(altAliases, (v) => check.array('altAliases', v, check.roomAlias));
    return build(roomId, 'm.room.canonical_alias', { alias, alt_aliases: altAliases });
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
      algorithm: ENCRYPTION.content.algorithm,
      rotation_period_ms: opts.rotationPeriodMs,
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
