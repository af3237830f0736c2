// The Auth, RoomEvent and StateEvent builders against a real Synapse: each one is used by
// name in the call it is made for, and what the server did is read back through another
// call or another user. Refused cases assert the answer Synapse 1.163.2 really gives.
import { Auth, generateClientSecret, MatrixError, RoomEvent, StateEvent, type MatrixSession } from '../../lib';
import { registerWithSharedSecret } from '../harness/admin';
import { extractLink, itEnv, uniqueName, waitForMail } from '../harness/env';
import { anonSession, catchError, newUser, PASSWORD } from './helpers';

jest.setTimeout(60_000);

const server = itEnv().serverName;

/** Validates a new address by mail and adds it to the logged-in user's account (as in threepid.spec.ts). */
async function addEmail(s: MatrixSession, email: string): Promise<void> {
  const clientSecret = generateClientSecret();
  const since = Date.now();
  const { sid } = await s.threepid.requestAccountEmailToken(clientSecret, email, 1);
  const link = extractLink((await waitForMail(email, { since })).text);
  expect(link.searchParams.get('sid')).toBe(sid);
  const res = await fetch(itEnv().baseUrl + link.pathname + link.search, { redirect: 'manual' });
  expect(res.status).toBe(200);
  await s.threepid.add(clientSecret, sid, Auth.password(s.userId!, PASSWORD));
}

/**
 * Binds a phone number (msisdn) to the user through Synapse's admin API: without an
 * identity server the client API cannot validate one.
 */
async function bindPhoneAsAdmin(userId: string, msisdn: string): Promise<void> {
  const { baseUrl, sharedSecret } = itEnv();
  const admin = await registerWithSharedSecret(baseUrl, sharedSecret, { username: uniqueName('admin'), password: PASSWORD, admin: true });
  const res = await fetch(`${baseUrl}/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.access_token}` },
    body: JSON.stringify({ threepids: [{ medium: 'msisdn', address: msisdn }] }),
  });
  expect(res.status).toBe(200);
}

/** The registration UIA challenge: `register` with an empty stage map answers nothing and throws it. */
async function registrationChallenge(username: string): Promise<MatrixError> {
  const challenge = await catchError(anonSession().account.register({ username, password: PASSWORD, auth: {} }));
  expect(challenge.isUserInteractiveAuth).toBe(true);
  expect(challenge.body.session).toEqual(expect.any(String));
  return challenge;
}

/** The flows this Synapse offers for registration (dummy, or a validated email). */
const REGISTER_FLOWS = [{ stages: ['m.login.dummy'] }, { stages: ['m.login.email.identity'] }];

describe('Auth builders (Synapse)', () => {
  it('Auth.passwordByThreepid: a user with a validated email logs in by email and password', async () => {
    const owner = await newUser('by3pid');
    const email = `${uniqueName('by3pid')}@example.org`;
    await addEmail(owner, email);
    await expect(owner.threepid.list()).resolves.toEqual([expect.objectContaining({ medium: 'email', address: email })]);

    const s = anonSession();
    const res = await s.account.login(Auth.passwordByThreepid('email', email, PASSWORD));
    expect(res.user_id).toBe(owner.userId);
    expect(res.device_id).not.toBe(owner.deviceId);
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: owner.userId, device_id: res.device_id });

    // Synapse canonicalises email addresses (lower case) before the lookup.
    const upper = anonSession();
    await upper.account.login(Auth.passwordByThreepid('email', email.toUpperCase(), PASSWORD));
    await expect(upper.account.whoami()).resolves.toMatchObject({ user_id: owner.userId });

    // The wrong password, and an address nobody owns, get the same refusal.
    const wrong = await catchError(anonSession().account.login(Auth.passwordByThreepid('email', email, `${PASSWORD}-not`)));
    expect(wrong).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    const nobody = await catchError(anonSession().account.login(Auth.passwordByThreepid('email', `${uniqueName('nobody')}@example.org`, PASSWORD)));
    expect(nobody).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
  });

  it('Auth.passwordByPhone logs in the owner of a bound phone number; an unbound one is refused with 403', async () => {
    // A number in the UK's drama range (07700 900000-900999), bound to no account yet.
    const national = `07700900${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
    const msisdn = `44${national.slice(1)}`; // what Synapse makes of GB + national
    const auth = Auth.passwordByPhone('GB', national, PASSWORD);

    const s = anonSession();
    const unbound = await catchError(s.account.login(auth));
    expect(unbound).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    const unboundThreepid = await catchError(s.account.login(Auth.passwordByThreepid('msisdn', msisdn, PASSWORD)));
    expect(unboundThreepid).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
    expect(s.isLoggedIn).toBe(false);

    const owner = await newUser('phone');
    await bindPhoneAsAdmin(owner.userId!, msisdn);
    await expect(owner.threepid.list()).resolves.toEqual([expect.objectContaining({ medium: 'msisdn', address: msisdn })]);
    await s.account.login(auth);
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: owner.userId });
    const byMsisdn = anonSession();
    await byMsisdn.account.login(Auth.passwordByThreepid('msisdn', msisdn, PASSWORD));
    await expect(byMsisdn.account.whoami()).resolves.toMatchObject({ user_id: owner.userId });
  });

  it('Auth.token: an unknown login token is refused with 403 M_FORBIDDEN and the session stays logged out', async () => {
    const s = anonSession();
    // Without SSO this Synapse does not list m.login.token, yet it checks the token it is sent.
    const { flows } = await s.account.loginFlows();
    expect(flows.map((f) => f.type)).not.toContain('m.login.token');

    const refused = await catchError(s.account.login(Auth.token('bogus')));
    expect(refused).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'Invalid login token' });
    expect(refused.isUserInteractiveAuth).toBe(false);
    expect([s.isLoggedIn, s.userId]).toEqual([false, undefined]);
  });

  it('Auth.dummy by name in register: the account exists, whoami names it, its password logs in', async () => {
    const username = uniqueName('dummy');
    const userId = `@${username}:${server}`;
    const s = anonSession();
    const res = await s.account.register({ username, password: PASSWORD, auth: Auth.dummy() });
    expect(res.user_id).toBe(userId);
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: userId, device_id: res.device_id });
    await expect(anonSession().account.isUsernameAvailable(username)).resolves.toBe(false);

    const other = anonSession();
    await other.account.loginWithPassword(username, PASSWORD);
    await expect(other.account.whoami()).resolves.toMatchObject({ user_id: userId });
  });

  it('Auth.recaptcha and Auth.msisdn in register: Synapse offers neither stage; the runner ends with its challenge, and a direct answer is refused', async () => {
    // As stage answers: no offered flow has the stage, so the runner throws the 401 challenge.
    for (const auth of [
      { 'm.login.recaptcha': Auth.recaptcha('not-a-captcha-response') },
      { 'm.login.msisdn': Auth.msisdn({ sid: 'no-such-sid', clientSecret: generateClientSecret() }) },
    ]) {
      const username = uniqueName('nostage');
      const challenge = await catchError(anonSession().account.register({ username, password: PASSWORD, auth }));
      expect(challenge.httpStatus).toBe(401);
      expect(challenge.isUserInteractiveAuth).toBe(true);
      expect(challenge.body).toMatchObject({ flows: REGISTER_FLOWS, params: {}, session: expect.any(String) });
      expect(challenge.body.errcode).toBeUndefined();
      await expect(anonSession().account.isUsernameAvailable(username)).resolves.toBe(true);
    }

    // Sent as is (the runner sends a ready AuthDict with the first request), with and
    // without the challenge's session: Synapse has no checker for the type and answers 400
    // M_INVALID_PARAM, outside UIA.
    const username = uniqueName('nostage');
    const { session } = (await registrationChallenge(username)).body as { session: string };
    for (const auth of [
      Auth.recaptcha('not-a-captcha-response'),
      Auth.msisdn({ sid: 'no-such-sid', clientSecret: generateClientSecret() }),
      Auth.withSession(Auth.recaptcha('not-a-captcha-response'), session),
      Auth.withSession(Auth.msisdn({ sid: 'no-such-sid', clientSecret: generateClientSecret() }), session),
    ]) {
      const refused = await catchError(anonSession().account.register({ username, password: PASSWORD, auth }));
      expect(refused).toMatchObject({ httpStatus: 400, errcode: 'M_INVALID_PARAM', error: 'Invalid login submission' });
      expect(refused.isUserInteractiveAuth).toBe(false);
    }
    await expect(anonSession().account.isUsernameAvailable(username)).resolves.toBe(true);
  });

  it('Auth.withSession: a manual UIA dance completes the challenge\'s session, and the session is what Synapse goes by', async () => {
    const username = uniqueName('session');
    const userId = `@${username}:${server}`;
    const challenge = await registrationChallenge(username);
    expect(challenge.body.flows).toEqual(REGISTER_FLOWS);
    const session = challenge.body.session as string;
    await expect(anonSession().account.isUsernameAvailable(username)).resolves.toBe(true);

    // A session Synapse never issued is refused.
    const unknown = await catchError(anonSession().account.register({ username, password: PASSWORD, auth: Auth.withSession(Auth.dummy(), 'no-such-session') }));
    expect(unknown).toMatchObject({ httpStatus: 400, errcode: 'M_UNKNOWN', error: 'Unknown session ID: no-such-session' });

    const s = anonSession();
    const res = await s.account.register({ username, password: PASSWORD, auth: Auth.withSession(Auth.dummy(), session) });
    expect(res.user_id).toBe(userId);
    await expect(s.account.whoami()).resolves.toMatchObject({ user_id: userId });

    // The completed session remembers whom it registered: another name is refused, and a
    // body without any name logs that same user in on a new device.
    const other = await catchError(
      anonSession().account.register({ username: uniqueName('session'), password: PASSWORD, auth: Auth.withSession(Auth.dummy(), session) }),
    );
    expect(other).toMatchObject({ httpStatus: 400, errcode: 'M_UNKNOWN', error: 'A different user ID has already been registered for this session' });
    const again = anonSession();
    const second = await again.account.register({ auth: Auth.withSession(Auth.dummy(), session) });
    expect(second.user_id).toBe(userId);
    expect(second.device_id).not.toBe(res.device_id);
    await expect(again.account.whoami()).resolves.toMatchObject({ user_id: userId, device_id: second.device_id });

    // The session belongs to /register: using it for another operation is refused.
    const owner = await newUser('session');
    const moved = await catchError(owner.account.changePassword(`${PASSWORD}-new`, Auth.withSession(Auth.password(owner.userId!, PASSWORD), session)));
    expect(moved).toMatchObject({ httpStatus: 403, errcode: 'M_UNKNOWN', error: 'Requested operation has changed during the UI authentication session.' });
    await anonSession().account.loginWithPassword(owner.userId!, PASSWORD); // unchanged
  });
});

describe('RoomEvent and StateEvent builders (Synapse)', () => {
  let alice: MatrixSession;
  let bob: MatrixSession;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
  });

  async function sharedRoom(opts: Parameters<MatrixSession['rooms']['create']>[0] = {}): Promise<string> {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat', invite: [bob.userId!], ...opts });
    await bob.rooms.join(roomId);
    return roomId;
  }

  it('RoomEvent.text, notice, emote, html, file and image: sent with sendEvent, read back by the other user', async () => {
    const roomId = await sharedRoom();
    const mxc = `mxc://${server}/${uniqueName('never-uploaded').replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const thumb = `mxc://${server}/thumbnail_1`;
    const events = [
      RoomEvent.text(roomId, 'plain text\nsecond line'),
      RoomEvent.notice(roomId, 'a notice'),
      RoomEvent.emote(roomId, 'waves'),
      RoomEvent.html(roomId, '<p>Hello <b>world</b></p><p>a &lt; b &amp; c</p>'),
      RoomEvent.html(roomId, '<i>styled</i>', 'my own plain body'),
      RoomEvent.file(roomId, { url: mxc, body: 'report.pdf', info: { mimetype: 'application/pdf', size: 12345 } }),
      RoomEvent.file(roomId, { url: mxc, body: 'the caption', filename: 'data.csv', msgtype: 'm.audio', info: { duration: 2000 } }),
      RoomEvent.image(roomId, { url: mxc, body: 'cat.png', info: { mimetype: 'image/png', size: 2048, w: 640, h: 480, thumbnail_url: thumb } }),
    ];
    const expected = [
      { msgtype: 'm.text', body: 'plain text\nsecond line' },
      { msgtype: 'm.notice', body: 'a notice' },
      { msgtype: 'm.emote', body: 'waves' },
      { msgtype: 'm.text', body: 'Hello world\na < b & c', format: 'org.matrix.custom.html', formatted_body: '<p>Hello <b>world</b></p><p>a &lt; b &amp; c</p>' },
      { msgtype: 'm.text', body: 'my own plain body', format: 'org.matrix.custom.html', formatted_body: '<i>styled</i>' },
      { msgtype: 'm.file', body: 'report.pdf', url: mxc, info: { mimetype: 'application/pdf', size: 12345 } },
      { msgtype: 'm.audio', body: 'the caption', url: mxc, filename: 'data.csv', info: { duration: 2000 } },
      { msgtype: 'm.image', body: 'cat.png', url: mxc, info: { mimetype: 'image/png', size: 2048, w: 640, h: 480, thumbnail_url: thumb } },
    ];

    const ids: string[] = [];
    for (const event of events) ids.push((await alice.rooms.sendEvent(event)).event_id);
    for (const [i, eventId] of ids.entries()) {
      const seen = await bob.rooms.event(roomId, eventId);
      expect(seen).toMatchObject({ event_id: eventId, room_id: roomId, type: 'm.room.message', sender: alice.userId });
      expect(seen.content).toEqual(expected[i]);
    }

    // In the timeline, in the order sent.
    const { chunk } = await bob.rooms.messages(roomId, { dir: 'b', limit: events.length, filter: { types: ['m.room.message'] } });
    expect(chunk.map((e) => e.event_id).reverse()).toEqual(ids);
  });

  it('StateEvent.name, avatar and historyVisibility: read back by the other user; an empty name removes it', async () => {
    const roomId = await sharedRoom();
    await alice.rooms.sendStateEvent(StateEvent.name(roomId, 'Named room'));
    await expect(bob.rooms.stateEvent(roomId, 'm.room.name')).resolves.toEqual({ name: 'Named room' });
    await alice.rooms.sendStateEvent(StateEvent.name(roomId, ''));
    await expect(bob.rooms.stateEvent(roomId, 'm.room.name')).resolves.toEqual({ name: '' });

    const avatar = `mxc://${server}/room_avatar_1`;
    const sent = await alice.rooms.sendStateEvent(StateEvent.avatar(roomId, avatar, { mimetype: 'image/png', w: 64, h: 64 }));
    const event = await bob.rooms.stateEvent<Record<string, unknown>>(roomId, 'm.room.avatar', '', { format: 'event' });
    expect(event).toMatchObject({ event_id: sent.event_id, sender: alice.userId, content: { url: avatar, info: { mimetype: 'image/png', w: 64, h: 64 } } });

    // world_readable: a user who never joined can read what is sent from then on (an event
    // keeps the visibility that was in force when it was sent).
    const outsider = await newUser('outsider');
    const { event_id: before } = await alice.rooms.sendText(roomId, 'members only');
    await alice.rooms.sendStateEvent(StateEvent.historyVisibility(roomId, 'world_readable'));
    await expect(bob.rooms.stateEvent(roomId, 'm.room.history_visibility')).resolves.toEqual({ history_visibility: 'world_readable' });
    const { event_id: after } = await alice.rooms.sendText(roomId, 'visible to all');
    await expect(outsider.rooms.event(roomId, after)).resolves.toMatchObject({ sender: alice.userId, content: { body: 'visible to all' } });
    await expect(outsider.rooms.event(roomId, before)).rejects.toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });
  });

  it('StateEvent.powerLevels: the new levels are read back and enforced', async () => {
    const roomId = await sharedRoom();
    // By default (private_chat) bob, at level 0, may not change the topic (state_default 50).
    await expect(bob.rooms.sendStateEvent(StateEvent.topic(roomId, 'by bob'))).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });

    const current = await alice.rooms.stateEvent<Record<string, unknown>>(roomId, 'm.room.power_levels');
    const users = { ...(current.users as Record<string, number>), [bob.userId!]: 50 };
    await alice.rooms.sendStateEvent(StateEvent.powerLevels(roomId, { ...current, users, events: { ...(current.events as Record<string, number>), 'org.example.locked': 100 } }));
    const read = await bob.rooms.stateEvent<Record<string, unknown>>(roomId, 'm.room.power_levels');
    // (In the default room version the creator is not listed in `users`: creators outrank every level.)
    expect(read.users).toEqual(users);
    expect((read.users as Record<string, number>)[bob.userId!]).toBe(50);
    expect(read.events).toMatchObject({ 'org.example.locked': 100 });

    await bob.rooms.sendStateEvent(StateEvent.topic(roomId, 'by bob'));
    await expect(alice.rooms.stateEvent(roomId, 'm.room.topic')).resolves.toMatchObject({ topic: 'by bob' });
    await expect(bob.rooms.sendStateEvent(StateEvent.custom(roomId, 'org.example.locked', { v: 1 }))).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
  });

  it('StateEvent.guestAccess: a guest may join only after can_join', async () => {
    const { room_id: roomId } = await alice.rooms.create({ preset: 'public_chat' });
    const guest = anonSession();
    await guest.account.registerGuest();
    await expect(guest.rooms.join(roomId)).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });

    await alice.rooms.sendStateEvent(StateEvent.guestAccess(roomId, 'can_join'));
    await expect(alice.rooms.stateEvent(roomId, 'm.room.guest_access')).resolves.toEqual({ guest_access: 'can_join' });
    await expect(guest.rooms.join(roomId)).resolves.toEqual({ room_id: roomId });
    expect(Object.keys((await alice.rooms.joinedMembers(roomId)).joined)).toContain(guest.userId);
  });

  it('StateEvent.canonicalAlias: aliases of the room are read back; an alias of another room is refused', async () => {
    const roomId = await sharedRoom();
    const [main, alt, elsewhere] = ['main', 'alt', 'elsewhere'].map((n) => `#${uniqueName(n)}:${server}`);
    await alice.rooms.setAlias(main, roomId);
    await alice.rooms.setAlias(alt, roomId);
    await alice.rooms.sendStateEvent(StateEvent.canonicalAlias(roomId, main, [alt]));
    await expect(bob.rooms.stateEvent(roomId, 'm.room.canonical_alias')).resolves.toEqual({ alias: main, alt_aliases: [alt] });

    const { room_id: otherRoom } = await alice.rooms.create({ preset: 'private_chat' });
    await alice.rooms.setAlias(elsewhere, otherRoom);
    const refused = await catchError(alice.rooms.sendStateEvent(StateEvent.canonicalAlias(roomId, elsewhere)));
    expect(refused).toMatchObject({ httpStatus: 400, errcode: 'M_BAD_ALIAS' });
    await expect(bob.rooms.stateEvent(roomId, 'm.room.canonical_alias')).resolves.toEqual({ alias: main, alt_aliases: [alt] });
  });

  it('StateEvent.joinRules restricted with allow: members of the allowed room may join, others may not', async () => {
    const { room_id: space } = await alice.rooms.create({ preset: 'private_chat', invite: [bob.userId!] });
    await bob.rooms.join(space);
    const { room_id: roomId } = await alice.rooms.create({ preset: 'private_chat', roomVersion: '10' });
    const carol = await newUser('carol');

    await alice.rooms.sendStateEvent(StateEvent.joinRules(roomId, 'restricted', [{ type: 'm.room_membership', room_id: space }]));
    await expect(carol.rooms.stateEvent(roomId, 'm.room.join_rules')).rejects.toMatchObject({ httpStatus: 403 });
    await expect(alice.rooms.stateEvent(roomId, 'm.room.join_rules')).resolves.toEqual({
      join_rule: 'restricted',
      allow: [{ type: 'm.room_membership', room_id: space }],
    });
    await expect(bob.rooms.join(roomId)).resolves.toEqual({ room_id: roomId });
    await expect(carol.rooms.join(roomId)).rejects.toMatchObject({ httpStatus: 403 });
    const joined = Object.keys((await alice.rooms.joinedMembers(roomId)).joined).sort();
    expect(joined).toEqual([alice.userId, bob.userId].sort());
  });
});
