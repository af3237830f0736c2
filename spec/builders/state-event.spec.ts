import { StateEvent } from '../../lib/builders/state-event';
import { expectThrowsInvalid } from '../helpers/fixtures';

const ROOM = '!room:example.org';

describe('StateEvent', () => {
  it.each([
    [StateEvent.joinRules(ROOM, 'invite'), 'm.room.join_rules', { join_rule: 'invite' }],
    [
      StateEvent.joinRules(ROOM, 'restricted', [{ type: 'm.room_membership', room_id: '!space:example.org' }]),
      'm.room.join_rules',
      { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!space:example.org' }] },
    ],
    [StateEvent.name(ROOM, 'Team'), 'm.room.name', { name: 'Team' }],
    [StateEvent.name(ROOM, ''), 'm.room.name', { name: '' }],
    [StateEvent.topic(ROOM, 'a\nb'), 'm.room.topic', { topic: 'a\nb', 'm.topic': { 'm.text': [{ mimetype: 'text/plain', body: 'a\nb' }] } }],
    [StateEvent.avatar(ROOM, 'mxc://example.org/abc'), 'm.room.avatar', { url: 'mxc://example.org/abc' }],
    [StateEvent.powerLevels(ROOM, { users: { '@a:example.org': 100 }, ban: 50 }), 'm.room.power_levels', { users: { '@a:example.org': 100 }, ban: 50 }],
    [StateEvent.historyVisibility(ROOM, 'joined'), 'm.room.history_visibility', { history_visibility: 'joined' }],
    [StateEvent.guestAccess(ROOM, 'forbidden'), 'm.room.guest_access', { guest_access: 'forbidden' }],
    [StateEvent.canonicalAlias(ROOM, '#a:example.org'), 'm.room.canonical_alias', { alias: '#a:example.org' }],
    [
      StateEvent.canonicalAlias(ROOM, '#a:example.org', ['#b:example.org']),
      'm.room.canonical_alias',
      { alias: '#a:example.org', alt_aliases: ['#b:example.org'] },
    ],
  ])('%#: %p', (event, type, content) => {
    expect(event.roomId).toBe(ROOM);
    expect(event.type).toBe(type);
    expect(event.stateKey).toBe('');
    // What goes on the wire: undefined fields are left out.
    expect(JSON.parse(JSON.stringify(event.content))).toEqual(content);
  });

  it('custom takes any state key, "" by default', () => {
    expect(StateEvent.custom(ROOM, 'org.example.s', { a: 1 })).toEqual({ roomId: ROOM, type: 'org.example.s', stateKey: '', content: { a: 1 } });
    expect(StateEvent.custom(ROOM, 'org.example.s', {}, 'a/b').stateKey).toBe('a/b');
  });

  it.each([
    ['roomId', () => StateEvent.name('room', 'x')],
    ['rule', () => StateEvent.joinRules(ROOM, 'open' as 'public')],
    ['allow[0].room_id', () => StateEvent.joinRules(ROOM, 'restricted', [{ type: 'm.room_membership', room_id: 'x' }])],
    ['allow[0].type', () => StateEvent.joinRules(ROOM, 'restricted', [{ type: 'm.other' as never, room_id: ROOM }])],
    ['name', () => StateEvent.name(ROOM, 'a\nb')],
    ['topic', () => StateEvent.topic(ROOM, null as never)],
    ['mxcUrl', () => StateEvent.avatar(ROOM, 'http://example.org/a.png')],
    ['info', () => StateEvent.avatar(ROOM, 'mxc://example.org/a', 'x' as never)],
    ['content', () => StateEvent.powerLevels(ROOM, null as never)],
    ['visibility', () => StateEvent.historyVisibility(ROOM, 'all' as 'joined')],
    ['access', () => StateEvent.guestAccess(ROOM, 'yes' as 'can_join')],
    ['alias', () => StateEvent.canonicalAlias(ROOM, 'a')],
    ['altAliases[0]', () => StateEvent.canonicalAlias(ROOM, '#a:example.org', ['b'])],
    ['type', () => StateEvent.custom(ROOM, '', {})],
    ['content', () => StateEvent.custom(ROOM, 'x.y', 'x' as never)],
    ['stateKey', () => StateEvent.custom(ROOM, 'x.y', {}, 'k'.repeat(256))],
  ])('rejects bad %s', (parameter, build) => expectThrowsInvalid(build, parameter));
});
