import { MatrixError, type MatrixSession } from '../../lib';
import { RoomEvent } from '../../lib/builders/room-event';
import { StateEvent } from '../../lib/builders/state-event';
import type { ClientEvent } from '../../lib/types';
import { itEnv, uniqueName } from '../harness/env';
import { anonSession, catchError, eventually, newUser } from './helpers';

const server = itEnv().serverName;
const MESSAGES_ONLY = { types: ['m.room.message'] };

function byType(state: ClientEvent[], type: string, stateKey = ''): ClientEvent | undefined {
  return state.find((e) => e.type === type && e.state_key === stateKey);
}

async function membershipOf(viewer: MatrixSession, roomId: string, userId: string): Promise<ClientEvent | undefined> {
  const { chunk } = await viewer.rooms.members(roomId);
  return chunk.find((e) => e.state_key === userId);
}

/**
 * What a fresh client's sync shows of one room, left rooms included. (No `rooms` filter:
 * Synapse 1.163 then drops the room's account data, m.fully_read included.)
 */
async function syncRoom(s: MatrixSession, roomId: string) {
  const res = await s.sync.once({ filter: { room: { include_leave: true, timeline: { limit: 1 } } } });
  return { join: res.rooms?.join?.[roomId], leave: res.rooms?.leave?.[roomId] };
}

/** Pages through the room's messages until the server says there are no more. */
async function allMessages(s: MatrixSession, roomId: string, dir: 'b' | 'f', limit: number) {
  const bodies: string[] = [];
  let from: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await s.rooms.messages(roomId, { dir, from, limit, filter: MESSAGES_ONLY });
    expect(page.chunk.length).toBeLessThanOrEqual(limit);
    bodies.push(...page.chunk.map((e) => e.content.body as string));
    if (page.chunk.length > 0) pages++;
    if (!page.end) break;
    from = page.end;
    if (pages > 20) throw new Error('pagination does not end');
  }
  return { bodies, pages };
}

describe('rooms (Synapse)', () => {
  let alice: MatrixSession;
  let bob: MatrixSession;
  let carol: MatrixSession;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([newUser('alice'), newUser('bob'), newUser('carol')]);
  });

  it('create applies every option; state, single state events and the alias read them back', async () => {
    const aliasName = uniqueName('created');
    const { room_id: roomId } = await alice.rooms.create({
      name: 'Created room',
      topic: 'About\nthings',
      preset: 'private_chat',
      roomAliasName: aliasName,
      invite: [bob.userId!],
      isDirect: true,
      roomVersion: '10',
      creationContent: { 'm.federate': false },
      initialState: [
        { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        { type: 'org.example.config', stateKey: 'k1', content: { level: 3 } },
      ],
      powerLevelContentOverride: { invite: 75 },
    });
    expect(roomId).toMatch(/^!/);

    const state = await alice.rooms.state(roomId);
    expect(byType(state, 'm.room.name')?.content).toEqual({ name: 'Created room' });
    expect(byType(state, 'm.room.topic')?.content.topic).toBe('About\nthings');
    expect(byType(state, 'm.room.join_rules')?.content).toEqual({ join_rule: 'invite' });
    expect(byType(state, 'm.room.history_visibility')?.content).toEqual({ history_visibility: 'joined' });
    expect(byType(state, 'org.example.config', 'k1')?.content).toEqual({ level: 3 });
    expect(byType(state, 'm.room.create')?.content).toMatchObject({ 'm.federate': false, room_version: '10' });
    expect(byType(state, 'm.room.power_levels')?.content.invite).toBe(75);
    expect(byType(state, 'm.room.canonical_alias')?.content.alias).toBe(`#${aliasName}:${server}`);
    expect(byType(state, 'm.room.member', bob.userId!)?.content).toMatchObject({ membership: 'invite', is_direct: true });

    await expect(alice.rooms.stateEvent(roomId, 'm.room.name')).resolves.toEqual({ name: 'Created room' });
    await expect(alice.rooms.resolveAlias(`#${aliasName}:${server}`)).resolves.toMatchObject({ room_id: roomId, servers: [server] });
    await expect(alice.rooms.getVisibility(roomId)).resolves.toEqual({ visibility: 'private' });
  });

  it('join by alias and by ID with via; joined() and joinedMembers() list the result', async () => {
    const aliasName = uniqueName('pub');
    const { room_id: roomId } = await alice.rooms.create({ preset: 'public_chat', roomAliasName: aliasName });
    await expect(bob.rooms.join(`#${aliasName}:${server}`, { reason: 'hello' })).resolves.toEqual({ room_id: roomId });
    await expect(carol.rooms.join(roomId, { via: [server] })).resolves.toEqual({ room_id: roomId });

    expect((await bob.rooms.joined()).joined_rooms).toContain(roomId);
    expect((await carol.rooms.joined()).joined_rooms).toContain(roomId);
    expect((await membershipOf(alice, roomId, bob.userId!))?.content).toMatchObject({ membership: 'join', reason: 'hello' });
    const { joined } = await carol.rooms.joinedMembers(roomId);
    expect(Object.keys(joined).sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());
  });

  it('invite, kick, ban, unban, leave and forget, as the other members see them', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat' });

    await alice.rooms.invite(roomId, bob.userId!, { reason: 'join us' });
    expect((await membershipOf(alice, roomId, bob.userId!))?.content).toMatchObject({ membership: 'invite', reason: 'join us' });
    await bob.rooms.join(roomId);
    expect((await membershipOf(alice, roomId, bob.userId!))?.content.membership).toBe('join');

    await alice.rooms.kick(roomId, bob.userId!, { reason: 'out' });
    expect((await membershipOf(alice, roomId, bob.userId!))?.content).toMatchObject({ membership: 'leave', reason: 'out' });
    expect((await bob.rooms.joined()).joined_rooms).not.toContain(roomId);

    await alice.rooms.ban(roomId, bob.userId!, { reason: 'spam' });
    expect((await membershipOf(alice, roomId, bob.userId!))?.content).toMatchObject({ membership: 'ban', reason: 'spam' });
    await expect(bob.rooms.join(roomId)).rejects.toMatchObject({ httpStatus: 403 });

    await alice.rooms.unban(roomId, bob.userId!);
    expect((await membershipOf(alice, roomId, bob.userId!))?.content.membership).toBe('leave');

    // carol joins, then leaves and forgets the room: it drops out of her (leave-including) sync.
    await alice.rooms.invite(roomId, carol.userId!);
    await carol.rooms.join(roomId);
    await expect(carol.rooms.forget(roomId)).rejects.toMatchObject({ httpStatus: 400 }); // still joined
    await carol.rooms.leave(roomId, { reason: 'done' });
    expect((await membershipOf(alice, roomId, carol.userId!))?.content).toMatchObject({ membership: 'leave', reason: 'done' });
    expect((await carol.rooms.joined()).joined_rooms).not.toContain(roomId);
    expect((await syncRoom(carol, roomId)).leave).toBeDefined();
    await carol.rooms.forget(roomId);
    expect((await syncRoom(carol, roomId)).leave).toBeUndefined();
  });

  it('members filters by membership and notMembership', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat', invite: [bob.userId!, carol.userId!] });
    await carol.rooms.join(roomId);
    const ids = async (opts: Parameters<MatrixSession['rooms']['members']>[1]) =>
      (await alice.rooms.members(roomId, opts)).chunk.map((e) => e.state_key).sort();

    expect(await ids({})).toEqual([alice.userId, bob.userId, carol.userId].sort());
    expect(await ids({ membership: 'join' })).toEqual([alice.userId, carol.userId].sort());
    expect(await ids({ membership: 'invite' })).toEqual([bob.userId]);
    expect(await ids({ notMembership: 'join' })).toEqual([bob.userId]);
    const all = (await alice.rooms.members(roomId)).chunk;
    expect(all.every((e) => e.type === 'm.room.member' && e.room_id === roomId)).toBe(true);
  });

  it('messages pages backward and forward over several pages, in order and complete', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat' });
    const sent = Array.from({ length: 25 }, (_, i) => `m${i}`);
    for (const body of sent) await alice.rooms.sendText(roomId, body);

    const back = await allMessages(alice, roomId, 'b', 10);
    expect(back.bodies).toEqual([...sent].reverse());
    expect(back.pages).toBe(3);

    const forward = await allMessages(alice, roomId, 'f', 10);
    expect(forward.bodies).toEqual(sent);
    expect(forward.pages).toBe(3);

    // Without the filter the state events of the room's creation come first, going forward.
    const first = await alice.rooms.messages(roomId, { dir: 'f', limit: 1 });
    expect(first.chunk[0].type).toBe('m.room.create');
  });

  it('state events round-trip, with the empty key and with a key holding / ? # % and spaces', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat' });
    const key = 'a/b?c#d%e f/../é';
    const sent = await alice.rooms.sendStateEvent(StateEvent.custom(roomId, 'org.example.weird', { v: 1 }, key));
    expect(sent.event_id).toMatch(/^\$/);
    await alice.rooms.sendStateEvent(StateEvent.custom(roomId, 'org.example.weird', { v: 2 }));
    await alice.rooms.sendStateEvent(StateEvent.topic(roomId, 'new topic'));
    await alice.rooms.sendStateEvent(StateEvent.joinRules(roomId, 'public'));

    await expect(alice.rooms.stateEvent(roomId, 'org.example.weird', key)).resolves.toEqual({ v: 1 });
    await expect(alice.rooms.stateEvent(roomId, 'org.example.weird')).resolves.toEqual({ v: 2 });
    await expect(alice.rooms.stateEvent(roomId, 'org.example.weird', 'a')).rejects.toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });
    await expect(alice.rooms.stateEvent(roomId, 'm.room.topic')).resolves.toMatchObject({ topic: 'new topic' });

    const state = await alice.rooms.state(roomId);
    expect(byType(state, 'org.example.weird', key)).toMatchObject({ event_id: sent.event_id, content: { v: 1 }, sender: alice.userId });
    expect(byType(state, 'm.room.join_rules')?.content).toEqual({ join_rule: 'public' });
  });

  it('event fetches one event; a resent RoomEvent (same txnId) is sent only once', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat' });
    const event = RoomEvent.custom(roomId, 'org.example.ping', { n: 1 });
    const first = await alice.rooms.sendEvent(event);
    const again = await alice.rooms.sendEvent(event);
    expect(again.event_id).toBe(first.event_id);

    const fetched = await alice.rooms.event(roomId, first.event_id);
    expect(fetched).toMatchObject({ event_id: first.event_id, room_id: roomId, type: 'org.example.ping', content: { n: 1 }, sender: alice.userId });
    const pings = (await alice.rooms.messages(roomId, { filter: { types: ['org.example.ping'] } })).chunk;
    expect(pings).toHaveLength(1);
  });

  it('redact empties the content; the same txnId redacts once', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat' });
    const { event_id: eventId } = await alice.rooms.sendText(roomId, 'secret');
    const txnId = uniqueName('redact');
    const redaction = await alice.rooms.redact(roomId, eventId, { reason: 'typo', txnId });
    await expect(alice.rooms.redact(roomId, eventId, { reason: 'typo', txnId })).resolves.toEqual(redaction);

    const redacted = await alice.rooms.event(roomId, eventId);
    expect(redacted.content).toEqual({});
    expect(redacted.unsigned?.redacted_because).toMatchObject({ event_id: redaction.event_id, type: 'm.room.redaction' });
    const redactionEvent = await alice.rooms.event(roomId, redaction.event_id);
    expect(redactionEvent.content).toMatchObject({ reason: 'typo' });
  });

  it('directory visibility is set and read back, also without a token', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'public_chat' });
    await expect(alice.rooms.getVisibility(roomId)).resolves.toEqual({ visibility: 'private' });
    await alice.rooms.setVisibility(roomId, 'public');
    await expect(anonSession().rooms.getVisibility(roomId)).resolves.toEqual({ visibility: 'public' });
    await alice.rooms.setVisibility(roomId, 'private');
    await expect(alice.rooms.getVisibility(roomId)).resolves.toEqual({ visibility: 'private' });
  });

  it('publicRooms lists published rooms (GET, paginated) and finds one by search term (POST)', async () => {
    const term = uniqueName('cheese');
    const created = await Promise.all(
      ['one', 'two'].map((n) => alice.rooms.create({ preset: 'public_chat', visibility: 'public', name: `${term} ${n}`, topic: 'dairy' })),
    );
    const ids = created.map((r) => r.room_id);

    const found = await eventually(async () => {
      const res = await bob.rooms.searchPublicRooms({ genericSearchTerm: term }, { limit: 10 });
      return res.chunk.length === 2 && res;
    });
    expect(found.chunk.map((r) => r.room_id).sort()).toEqual([...ids].sort());
    expect(found.chunk[0]).toMatchObject({ num_joined_members: 1, world_readable: false, topic: 'dairy', join_rule: 'public' });
    await expect(bob.rooms.searchPublicRooms({ genericSearchTerm: uniqueName('nothing') })).resolves.toMatchObject({ chunk: [] });
    await expect(bob.rooms.searchPublicRooms({ genericSearchTerm: term }, { server })).resolves.toMatchObject({ chunk: expect.any(Array) });

    // GET without a token, one room per page: following next_batch reaches both rooms.
    const anon = anonSession();
    const seen = new Set<string>();
    let since: string | undefined;
    for (let page = 0; page < 1000 && !ids.every((id) => seen.has(id)); page++) {
      const res = await anon.rooms.publicRooms({ limit: 1, since });
      expect(res.chunk.length).toBeLessThanOrEqual(1);
      res.chunk.forEach((r) => seen.add(r.room_id));
      if (!res.next_batch) break;
      since = res.next_batch;
    }
    expect(ids.every((id) => seen.has(id))).toBe(true);
  });

  it('sendText, sendNotice, sendHtml, reply and react read back through messages and event', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat', invite: [bob.userId!] });
    await bob.rooms.join(roomId);
    const text = await bob.rooms.sendText(roomId, 'question?');
    await alice.rooms.sendNotice(roomId, 'a notice');
    await alice.rooms.sendHtml(roomId, '<b>bold</b> move');
    const question = await alice.rooms.event(roomId, text.event_id);
    const reply = await alice.rooms.reply(question, 'answer');
    const reaction = await alice.rooms.react(question, '👍');

    const { chunk } = await bob.rooms.messages(roomId, { dir: 'b', limit: 5, filter: { types: ['m.room.message', 'm.reaction'] } });
    expect(chunk.map((e) => [e.type, e.content.msgtype, e.content.body ?? null])).toEqual([
      ['m.reaction', undefined, null],
      ['m.room.message', 'm.text', 'answer'],
      ['m.room.message', 'm.text', 'bold move'],
      ['m.room.message', 'm.notice', 'a notice'],
      ['m.room.message', 'm.text', 'question?'],
    ]);
    expect(chunk[2].content).toMatchObject({ format: 'org.matrix.custom.html', formatted_body: '<b>bold</b> move' });
    expect((await bob.rooms.event(roomId, reply.event_id)).content).toMatchObject({
      'm.relates_to': { 'm.in_reply_to': { event_id: text.event_id } },
      'm.mentions': { user_ids: [bob.userId] },
    });
    expect((await bob.rooms.event(roomId, reaction.event_id)).content).toEqual({
      'm.relates_to': { rel_type: 'm.annotation', event_id: text.event_id, key: '👍' },
    });
  });

  it("setPowerLevel gives one user a level that the server then enforces, keeping everyone else's", async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat', invite: [bob.userId!] });
    await bob.rooms.join(roomId);
    // Bob, at the default 0, may not rename the room (state_default is 50).
    expect((await catchError(bob.rooms.sendStateEvent(StateEvent.name(roomId, 'by bob')))).errcode).toBe('M_FORBIDDEN');

    type Levels = { users: Record<string, number>; state_default: number };
    // (In room version 12, Synapse's default, the creator is not listed: creators outrank everyone.)
    const before = await alice.rooms.stateEvent<Levels>(roomId, 'm.room.power_levels');
    await alice.rooms.setPowerLevel(roomId, bob.userId!, 50);
    const levels = await alice.rooms.stateEvent<Levels>(roomId, 'm.room.power_levels');
    expect(levels).toEqual({ ...before, users: { ...before.users, [bob.userId!]: 50 } });
    await bob.rooms.sendStateEvent(StateEvent.name(roomId, 'by bob'));
    expect(await alice.rooms.stateEvent(roomId, 'm.room.name')).toEqual({ name: 'by bob' });

    // Back to the default: the entry goes, and the server refuses Bob again.
    await alice.rooms.setPowerLevel(roomId, bob.userId!, 0);
    expect(await alice.rooms.stateEvent<Levels>(roomId, 'm.room.power_levels')).toEqual(before);
    expect((await catchError(bob.rooms.sendStateEvent(StateEvent.name(roomId, 'again')))).errcode).toBe('M_FORBIDDEN');
    await alice.rooms.sendStateEvent(StateEvent.name(roomId, 'by alice')); // the creator kept her power
  });

  it('typing, receipts and read markers reach the other user (and the own account data)', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat', invite: [bob.userId!] });
    await bob.rooms.join(roomId);
    const { event_id: eventId } = await bob.rooms.sendText(roomId, 'read me');

    await alice.rooms.setTyping(roomId, true, 30_000);
    await eventually(async () => {
      const typing = (await syncRoom(bob, roomId)).join?.ephemeral?.events.find((e) => e.type === 'm.typing');
      return (typing?.content.user_ids as string[] | undefined)?.includes(alice.userId!);
    });
    await alice.rooms.setTyping(roomId, false);
    await eventually(async () => {
      const typing = (await syncRoom(bob, roomId)).join?.ephemeral?.events.find((e) => e.type === 'm.typing');
      return !(typing?.content.user_ids as string[] | undefined)?.includes(alice.userId!);
    });

    await alice.rooms.sendReceipt(roomId, eventId);
    const receipt = await eventually(async () => {
      const r = (await syncRoom(bob, roomId)).join?.ephemeral?.events.find((e) => e.type === 'm.receipt');
      const content = r?.content as Record<string, Record<string, Record<string, unknown>>> | undefined;
      return content?.[eventId]?.['m.read']?.[alice.userId!];
    });
    expect(receipt).toMatchObject({ ts: expect.any(Number) });

    // A private receipt and the fully-read marker are alice's alone.
    await alice.rooms.setReadMarkers(roomId, { fullyRead: eventId, readPrivate: eventId });
    const aliceView = await syncRoom(alice, roomId);
    expect(aliceView.join?.account_data?.events).toContainEqual({ type: 'm.fully_read', content: { event_id: eventId } });
    const own = aliceView.join?.ephemeral?.events.find((e) => e.type === 'm.receipt')?.content as Record<string, Record<string, unknown>>;
    expect(own?.[eventId]?.['m.read.private']).toHaveProperty([alice.userId!]);
    const bobReceipts = (await syncRoom(bob, roomId)).join?.ephemeral?.events.find((e) => e.type === 'm.receipt')?.content as
      | Record<string, Record<string, unknown>>
      | undefined;
    expect(bobReceipts?.[eventId]?.['m.read.private']).toBeUndefined();
  });

  it('aliases: set, resolve (without a token), delete', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat' });
    const alias = `#${uniqueName('alias')}:${server}`;
    await alice.rooms.setAlias(alias, roomId);
    await expect(anonSession().rooms.resolveAlias(alias)).resolves.toEqual({ room_id: roomId, servers: [server] });
    // Taken: 409 (Synapse says M_UNKNOWN where the spec says M_ROOM_IN_USE).
    await expect(alice.rooms.setAlias(alias, roomId)).rejects.toMatchObject({ httpStatus: 409 });
    await alice.rooms.deleteAlias(alias);
    const gone = await bob.rooms.resolveAlias(alias).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(MatrixError);
    expect(gone).toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });
  });
});
