// Table-driven: malformed input to every public method of every group is refused with a
// ValidationError before anything is sent (nock has no interceptor and net connect is off,
// so a request that did leave would fail differently, and the logger would show it).
import nock from 'nock';
import { MatrixSession, ValidationError, type SessionOptions } from '../lib';
import type { RequestOptions } from '../lib/core/request';
import { notEncrypted } from './helpers/fixtures';

const BASE = 'http://hs.test';
const ME = '@me:hs.test';
const ROOM = '!room:hs.test';
const EVENT = '$event';
const SECRET = 'clientSecret123';

// ---- Malformed values, by what the parameter should be ------------------------------------
const LONG = 'x'.repeat(70_000);
const ID_LONG = (sigil: string) => `${sigil}${'a'.repeat(300)}:hs.test`;
const NOT_STRINGS: unknown[] = [42, null, {}, ['x'], true];

const BAD = {
  userId: ['', 'alice', 'alice:hs.test', '@alice', '@:hs.test', '@a b:hs.test', '@a\u0000b:hs.test', '@a:bad host', ROOM, ID_LONG('@'), ...NOT_STRINGS],
  roomId: ['', 'room:hs.test', '#alias:hs.test', ME, '!', '!a b:hs.test', '!a\nb:hs.test', ID_LONG('!'), ...NOT_STRINGS],
  roomAlias: ['', 'alias:hs.test', '#alias', ROOM, '#:hs.test', '#a b:hs.test', ID_LONG('#'), ...NOT_STRINGS],
  roomIdOrAlias: ['', 'room', ME, EVENT, '!', '#', '!a\tb:hs', ...NOT_STRINGS],
  eventId: ['', 'event', '$', '$a b', '$a\u0007', ROOM, ...NOT_STRINGS],
  mxcUri: ['', 'http://hs.test/abc', 'mxc://hs.test/', 'mxc://hs.test/a/b', 'mxc:///abc', ...NOT_STRINGS],
  serverName: ['', 'bad host', 'https://hs.test', 'hs.test/path', 'hs.test:99999999', ...NOT_STRINGS],
  clientSecret: ['', 'has space', 'semi;colon', 'ü', 'x'.repeat(256), ...NOT_STRINGS],
  email: ['', 'alice', 'alice@', '@hs.test', 'a b@hs.test', ...NOT_STRINGS],
  country: ['', 'gb', 'GBR', 'XX', 'G', ...NOT_STRINGS],
  /** A non-empty single-line string. */
  text: ['', 'line\nbreak', 'nul\u0000', 'esc\u001b', LONG, ...NOT_STRINGS],
  /** A multi-line body: only the type, the emptiness and the length can be wrong. */
  body: ['', LONG, ...NOT_STRINGS],
  int: [-1, 1.5, NaN, Infinity, '10', null, true, 2 ** 53],
  positiveInt: [0, -1, 1.5, '5', null],
  bool: [0, 1, 'true', null, {}],
  object: [null, 'x', 1, [], true],
  requestOptions: [null, { timeoutMs: 0 }, { timeoutMs: -1 }, { timeoutMs: 1.5 }, { maxRetries: -1 }, { maxRetries: 'x' }, { signal: {} }],
};

type Call = (s: MatrixSession, v: any) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
const CASES: Array<[label: string, call: Call, value: unknown]> = [];

function each(method: string, param: string, values: readonly unknown[], call: Call): void {
  for (const v of values) CASES.push([`${method} ${param}=${describe_(v)}`, call, v]);
}

function describe_(v: unknown): string {
  if (typeof v === 'string') return v.length > 40 ? `"${v.slice(0, 12)}…"(${v.length})` : JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (v === undefined || typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') return String(v);
  return JSON.stringify(v) ?? String(v);
}

const O = (v: unknown) => v as RequestOptions;

// ---- session -----------------------------------------------------------------------------
each('new MatrixSession', 'baseUrl', ['', 'hs.test', 'ftp://hs.test', 'http://', ...NOT_STRINGS], (_s, v) => new MatrixSession({ baseUrl: v }));
each('new MatrixSession', 'baseUrl', ['http://hs.test/?x=', 'http://hs.test?', 'http://hs.test/#f', 'http://u:p@hs.test', 'http://@hs.test', ' http://hs.test', 'http://hs.test\n', 'javascript:alert(1)', 'ws://hs.test'], (_s, v) =>
  new MatrixSession({ baseUrl: v }),
);
each('new MatrixSession', 'maxResponseBytes', [0, -1, 1.5, '65536', null, Infinity, 2 ** 53], (_s, v) => new MatrixSession({ baseUrl: BASE, maxResponseBytes: v }));
each('new MatrixSession', 'timeoutMs', [0, -1, 1.5, '30000'], (_s, v) => new MatrixSession({ baseUrl: BASE, timeoutMs: v }));
each('new MatrixSession', 'userId', ['alice', 42], (_s, v) => new MatrixSession({ baseUrl: BASE, userId: v } as SessionOptions));

// ---- account -----------------------------------------------------------------------------
each('account.loginFlows', 'options', BAD.requestOptions, (s, v) => s.account.loginFlows(O(v)));
each('account.login', 'auth', [null, 'password', {}, { type: 5 }, [1]], (s, v) => s.account.login(v));
each('account.login', 'opts.deviceId', ['', 'a\nb', 'x'.repeat(256), 5], (s, v) => s.account.login({ type: 'm.login.password' }, { deviceId: v }));
each('account.login', 'opts.refreshToken', BAD.bool, (s, v) => s.account.login({ type: 'm.login.password' }, { refreshToken: v }));
each('account.loginWithPassword', 'user', ['', 'a\u0000', ...NOT_STRINGS], (s, v) => s.account.loginWithPassword(v, 'pw'));
each('account.loginWithPassword', 'password', ['', 42, null], (s, v) => s.account.loginWithPassword(ME, v));
each('account.logout', 'options', BAD.requestOptions.slice(0, 3), (s, v) => s.account.logout(O(v)));
each('account.logoutAll', 'options', BAD.requestOptions.slice(3), (s, v) => s.account.logoutAll(O(v)));
each('account.register', 'opts', [null, 'x', []], (s, v) => s.account.register(v));
each('account.register', 'opts.username', ['', 'a\nb', 'x'.repeat(256), 5], (s, v) => s.account.register({ username: v }));
each('account.register', 'opts.password', ['', 5, LONG], (s, v) => s.account.register({ password: v }));
each('account.register', 'opts.inhibitLogin', ['yes', 1], (s, v) => s.account.register({ inhibitLogin: v }));
each('account.register', 'opts.auth', ['dummy', 5, null], (s, v) => s.account.register({ auth: v }));
each('account.registerGuest', 'opts.initialDeviceDisplayName', ['', 'a\nb', 7], (s, v) => s.account.registerGuest({ initialDeviceDisplayName: v }));
each('account.isUsernameAvailable', 'username', ['', 'a\u0000b', 'x'.repeat(256), ...NOT_STRINGS], (s, v) => s.account.isUsernameAvailable(v));
each('account.whoami', 'options', BAD.requestOptions, (s, v) => s.account.whoami(O(v)));
each('account.changePassword', 'newPassword', ['', 5, null], (s, v) => s.account.changePassword(v, { type: 'm.login.password' }));
each('account.changePassword', 'auth', [null, 'pw', 5], (s, v) => s.account.changePassword('new-pw', v));
each('account.changePassword', 'opts.logoutDevices', ['no', 0], (s, v) => s.account.changePassword('new-pw', { type: 'm.login.password' }, { logoutDevices: v }));
each('account.deactivate', 'opts', [null, 'x'], (s, v) => s.account.deactivate(v));
each('account.deactivate', 'opts.erase', ['yes', 1], (s, v) => s.account.deactivate({ erase: v }));
each('account.deactivate', 'opts.idServer', ['', 5], (s, v) => s.account.deactivate({ idServer: v }));
each('account.refresh', 'options', BAD.requestOptions.slice(0, 2), (s, v) => s.account.refresh(O(v)));
each('account.getAccountData', 'type', ['', 'a\nb', 'x'.repeat(256), '.', '..', ...NOT_STRINGS], (s, v) => s.account.getAccountData(v));
each('account.setAccountData', 'type', ['', 5], (s, v) => s.account.setAccountData(v, {}));
each('account.setAccountData', 'content', BAD.object, (s, v) => s.account.setAccountData('org.example.t', v));

// ---- rooms -------------------------------------------------------------------------------
each('rooms.create', 'opts', [null, 'x', []], (s, v) => s.rooms.create(v));
each('rooms.create', 'opts.visibility', ['Public', 'hidden', 1], (s, v) => s.rooms.create({ visibility: v }));
each('rooms.create', 'opts.preset', ['private', 'PUBLIC_CHAT', 0], (s, v) => s.rooms.create({ preset: v }));
each('rooms.create', 'opts.invite', ['@a:hs', ['alice'], [5], [ROOM]], (s, v) => s.rooms.create({ invite: v }));
each('rooms.create', 'opts.name', ['n\nm', 'x'.repeat(256), 5], (s, v) => s.rooms.create({ name: v }));
each('rooms.create', 'opts.isDirect', ['true', 1], (s, v) => s.rooms.create({ isDirect: v }));
each('rooms.create', 'opts.initialState', [{}, [null], [{ type: 5, content: {} }], [{ type: 'm.x', content: 'c' }]], (s, v) =>
  s.rooms.create({ initialState: v }),
);
each('rooms.create', 'opts.creationContent', ['x', []], (s, v) => s.rooms.create({ creationContent: v }));
each('rooms.join', 'roomIdOrAlias', BAD.roomIdOrAlias, (s, v) => s.rooms.join(v));
each('rooms.join', 'opts.via', ['hs.test', ['bad host'], [5]], (s, v) => s.rooms.join(ROOM, { via: v }));
each('rooms.join', 'opts.reason', [LONG, 5], (s, v) => s.rooms.join(ROOM, { reason: v }));
each('rooms.leave', 'roomId', BAD.roomId, (s, v) => s.rooms.leave(v));
each('rooms.forget', 'roomId', BAD.roomId.slice(0, 6), (s, v) => s.rooms.forget(v));
each('rooms.joined', 'options', BAD.requestOptions.slice(0, 3), (s, v) => s.rooms.joined(O(v)));
each('rooms.invite', 'userId', BAD.userId, (s, v) => s.rooms.invite(ROOM, v));
each('rooms.invite', 'roomId', BAD.roomId.slice(0, 4), (s, v) => s.rooms.invite(v, ME));
each('rooms.kick', 'userId', BAD.userId.slice(0, 6), (s, v) => s.rooms.kick(ROOM, v));
each('rooms.ban', 'userId', BAD.userId.slice(6), (s, v) => s.rooms.ban(ROOM, v));
each('rooms.ban', 'opts.reason', [5, LONG], (s, v) => s.rooms.ban(ROOM, ME, { reason: v }));
each('rooms.unban', 'roomId', BAD.roomId.slice(4), (s, v) => s.rooms.unban(v, ME));
each('rooms.members', 'opts.membership', ['joined', 'JOIN', 1], (s, v) => s.rooms.members(ROOM, { membership: v }));
each('rooms.members', 'opts.notMembership', ['left', null], (s, v) => s.rooms.members(ROOM, { notMembership: v }));
each('rooms.joinedMembers', 'roomId', BAD.roomId.slice(0, 5), (s, v) => s.rooms.joinedMembers(v));
each('rooms.messages', 'roomId', BAD.roomId.slice(0, 3), (s, v) => s.rooms.messages(v));
each('rooms.messages', 'opts.dir', ['back', 'B', 1, null], (s, v) => s.rooms.messages(ROOM, { dir: v }));
each('rooms.messages', 'opts.limit', BAD.positiveInt, (s, v) => s.rooms.messages(ROOM, { limit: v }));
each('rooms.messages', 'opts.from', ['', 5, 'a\nb'], (s, v) => s.rooms.messages(ROOM, { from: v }));
each('rooms.messages', 'opts.filter', ['{}', [], 5], (s, v) => s.rooms.messages(ROOM, { filter: v }));
each('rooms.state', 'roomId', BAD.roomId.slice(3, 8), (s, v) => s.rooms.state(v));
each('rooms.stateEvent', 'type', ['', 'a\nb', 5, '.', '..'], (s, v) => s.rooms.stateEvent(ROOM, v));
each('rooms.stateEvent', 'stateKey', [5, 'a\u0000', '.', '..', 'x'.repeat(256)], (s, v) => s.rooms.stateEvent(ROOM, 'm.room.name', v));
each('rooms.stateEvent', 'opts.format', ['json', 1], (s, v) => s.rooms.stateEvent(ROOM, 'm.room.name', '', { format: v }));
each('rooms.event', 'eventId', BAD.eventId, (s, v) => s.rooms.event(ROOM, v));
each('rooms.sendEvent', 'event', [null, 'x', {}, { roomId: ROOM, type: 'm.x', content: 'c', txnId: 't' }, { roomId: 'r', type: 'm.x', content: {}, txnId: 't' }], (s, v) =>
  s.rooms.sendEvent(v),
);
each('rooms.sendEvent', 'event.txnId', ['', 5, '.', '..'], (s, v) => s.rooms.sendEvent({ roomId: ROOM, type: 'm.x', content: {}, txnId: v }));
each('rooms.sendStateEvent', 'event', [null, { roomId: ROOM, type: 'm.x', stateKey: 5, content: {} }, { roomId: ROOM, type: '', stateKey: '', content: {} }], (s, v) =>
  s.rooms.sendStateEvent(v),
);
each('rooms.redact', 'eventId', BAD.eventId.slice(0, 5), (s, v) => s.rooms.redact(ROOM, v));
each('rooms.redact', 'opts.txnId', ['', 5], (s, v) => s.rooms.redact(ROOM, EVENT, { txnId: v }));
each('rooms.getVisibility', 'roomId', BAD.roomId.slice(0, 3), (s, v) => s.rooms.getVisibility(v));
each('rooms.setVisibility', 'visibility', ['Public', 'hidden', '', null, 1], (s, v) => s.rooms.setVisibility(ROOM, v));
each('rooms.publicRooms', 'opts.limit', BAD.positiveInt, (s, v) => s.rooms.publicRooms({ limit: v }));
each('rooms.publicRooms', 'opts.server', BAD.serverName, (s, v) => s.rooms.publicRooms({ server: v }));
each('rooms.searchPublicRooms', 'filter', [null, 'x', { genericSearchTerm: 5 }, { roomTypes: 'm.space' }, { roomTypes: [5] }], (s, v) =>
  s.rooms.searchPublicRooms(v),
);
each('rooms.searchPublicRooms', 'opts.includeAllNetworks', ['yes', 1], (s, v) => s.rooms.searchPublicRooms({}, { includeAllNetworks: v }));
each('rooms.sendText', 'roomId', BAD.roomId.slice(0, 6), (s, v) => s.rooms.sendText(v, 'hi'));
each('rooms.sendText', 'body', BAD.body, (s, v) => s.rooms.sendText(ROOM, v));
each('rooms.sendNotice', 'body', BAD.body.slice(0, 3), (s, v) => s.rooms.sendNotice(ROOM, v));
each('rooms.sendHtml', 'html', BAD.body.slice(0, 3), (s, v) => s.rooms.sendHtml(ROOM, v));
each('rooms.reply', 'event', [null, { room_id: 'x', event_id: EVENT, sender: ME }, { room_id: ROOM, event_id: 'e', sender: ME }], (s, v) =>
  s.rooms.reply(v, 'hi'),
);
each('rooms.react', 'key', ['', 5, null], (s, v) => s.rooms.react({ room_id: ROOM, event_id: EVENT }, v));
each('rooms.setTyping', 'typing', BAD.bool, (s, v) => s.rooms.setTyping(ROOM, v));
each('rooms.setTyping', 'timeoutMs', [-1, 1.5, '1000', 3_600_001], (s, v) => s.rooms.setTyping(ROOM, true, v));
each('rooms.sendReceipt', 'type', ['m.readd', 'read', 5], (s, v) => s.rooms.sendReceipt(ROOM, EVENT, v));
each('rooms.sendReceipt', 'threadId', ['thread', 5], (s, v) => s.rooms.sendReceipt(ROOM, EVENT, 'm.read', v));
each('rooms.setReadMarkers', 'markers', [null, { fullyRead: 'e' }, { read: 5 }], (s, v) => s.rooms.setReadMarkers(ROOM, v));
each('rooms.resolveAlias', 'alias', BAD.roomAlias, (s, v) => s.rooms.resolveAlias(v));
each('rooms.setAlias', 'roomId', BAD.roomId.slice(0, 3), (s, v) => s.rooms.setAlias('#a:hs.test', v));
each('rooms.deleteAlias', 'alias', BAD.roomAlias.slice(0, 4), (s, v) => s.rooms.deleteAlias(v));

// ---- profile -----------------------------------------------------------------------------
each('profile.get', 'userId', BAD.userId, (s, v) => s.profile.get(v));
each('profile.getDisplayName', 'userId', BAD.userId.slice(0, 5), (s, v) => s.profile.getDisplayName(v));
each('profile.setDisplayName', 'displayName', ['a\nb', 'x\u0000', 5, null, LONG], (s, v) => s.profile.setDisplayName(ME, v));
each('profile.getAvatarUrl', 'userId', BAD.userId.slice(5), (s, v) => s.profile.getAvatarUrl(v));
each('profile.setAvatarUrl', 'mxcUrl', BAD.mxcUri, (s, v) => s.profile.setAvatarUrl(ME, v));
each('profile.getField', 'key', ['', 'Displayname', 'custom', 'org.Example', '../x', 5], (s, v) => s.profile.getField(ME, v));
each('profile.setField', 'value', [undefined, () => 1, Symbol('s'), 10n], (s, v) => s.profile.setField(ME, 'org.example.x', v));
each('profile.setField', 'm.tz', [5, 'a\nb'], (s, v) => s.profile.setField(ME, 'm.tz', v));
each('profile.deleteField', 'key', ['', 'x y', 5], (s, v) => s.profile.deleteField(ME, v));
each('profile.searchUsers', 'term', ['', 5, null, 'a\nb'], (s, v) => s.profile.searchUsers(v));
each('profile.searchUsers', 'opts.limit', [0, -1, 'x', 1.5], (s, v) => s.profile.searchUsers('x', { limit: v }));
each('profile.searchUsers', 'opts.language', ['', 'en_US!', 'de\nfr', 5], (s, v) => s.profile.searchUsers('x', { language: v }));

// ---- threepid ----------------------------------------------------------------------------
each('threepid.list', 'options', BAD.requestOptions.slice(0, 3), (s, v) => s.threepid.list(O(v)));
each('threepid.add', 'clientSecret', BAD.clientSecret, (s, v) => s.threepid.add(v, 'sid'));
each('threepid.add', 'sid', ['', 'with space', 5], (s, v) => s.threepid.add(SECRET, v));
each('threepid.bind', 'idServer', BAD.serverName, (s, v) => s.threepid.bind(SECRET, v, 'token', 'sid'));
each('threepid.bind', 'idAccessToken', ['', 5, 'a\nb'], (s, v) => s.threepid.bind(SECRET, 'id.example.org', v, 'sid'));
each('threepid.delete', 'medium', ['phone', 'EMAIL', '', 5], (s, v) => s.threepid.delete(v, 'a@example.org'));
each('threepid.delete', 'address', ['', 5, LONG], (s, v) => s.threepid.delete('email', v));
each('threepid.unbind', 'opts.idServer', ['bad host', 5], (s, v) => s.threepid.unbind('email', 'a@example.org', { idServer: v }));
each('threepid.requestAccountEmailToken', 'email', BAD.email, (s, v) => s.threepid.requestAccountEmailToken(SECRET, v, 1));
each('threepid.requestAccountEmailToken', 'sendAttempt', [0, -1, 1.5, '1', null], (s, v) => s.threepid.requestAccountEmailToken(SECRET, 'a@example.org', v));
each('threepid.requestAccountMsisdnToken', 'country', BAD.country, (s, v) => s.threepid.requestAccountMsisdnToken(SECRET, v, '+44 20 7946 0000', 1));
each('threepid.requestAccountMsisdnToken', 'phone', ['', 'call me', '+', 5], (s, v) => s.threepid.requestAccountMsisdnToken(SECRET, 'GB', v, 1));
each('threepid.requestRegistrationEmailToken', 'clientSecret', BAD.clientSecret.slice(0, 5), (s, v) => s.threepid.requestRegistrationEmailToken(v, 'a@example.org', 1));
each('threepid.requestRegistrationMsisdnToken', 'country', ['us', 'USA'], (s, v) => s.threepid.requestRegistrationMsisdnToken(SECRET, v, '2025550100', 1));
each('threepid.requestPasswordEmailToken', 'opts.nextLink', ['', 'javascript:alert(1)', 'not a url', 5], (s, v) =>
  s.threepid.requestPasswordEmailToken(SECRET, 'a@example.org', 1, { nextLink: v }),
);
each('threepid.requestPasswordMsisdnToken', 'sendAttempt', [0, 'one'], (s, v) => s.threepid.requestPasswordMsisdnToken(SECRET, 'GB', '+44 20 7946 0000', v));

// ---- server ------------------------------------------------------------------------------
each('server.versions', 'options', BAD.requestOptions.slice(0, 4), (s, v) => s.server.versions(O(v)));
each('server.capabilities', 'options', BAD.requestOptions.slice(4), (s, v) => s.server.capabilities(O(v)));
each('server.discover', 'serverName', ['', 'bad host', 'hs.test/path', 5], (s, v) => s.server.discover(v));

// ---- sync --------------------------------------------------------------------------------
each('sync.once', 'opts', [null, 'x'], (s, v) => s.sync.once(v));
each('sync.once', 'opts.timeout', [-1, 1.5, '30000', 3_600_001], (s, v) => s.sync.once({ timeout: v }));
each('sync.once', 'opts.setPresence', ['away', 'Online', 1], (s, v) => s.sync.once({ setPresence: v }));
each('sync.once', 'opts.fullState', ['true', 1], (s, v) => s.sync.once({ fullState: v }));
each('sync.once', 'opts.since', ['', 5, 'a\nb'], (s, v) => s.sync.once({ since: v }));
each('sync.once', 'opts.filter', [5, [], ''], (s, v) => s.sync.once({ filter: v }));
each('sync.createFilter', 'filter', BAD.object, (s, v) => s.sync.createFilter(v));
each('sync.getFilter', 'filterId', ['', 5, 'a\nb', '.', '..'], (s, v) => s.sync.getFilter(v));
each('sync.start', 'opts', [null, 'x'], (s, v) => s.sync.start(v));
each('sync.start', 'opts.timeout', [-1, 'x'], (s, v) => s.sync.start({ timeout: v }));
each('sync.start', 'opts.store', [{}, 'memory', { getSyncToken: 1 }], (s, v) => s.sync.start({ store: v }));
each('sync.start', 'opts.backoffBaseMs', [0, -5], (s, v) => s.sync.start({ backoffBaseMs: v }));

// ---- the table ---------------------------------------------------------------------------
let sent: string[] = [];
let sessions: MatrixSession[] = [];

function session(): MatrixSession {
  const s = new MatrixSession({ baseUrl: BASE, accessToken: 'tok', userId: ME, deviceId: 'DEV', logger: (l) => l.startsWith('->') && sent.push(l) });
  sessions.push(s);
  return s;
}

beforeAll(() => nock.disableNetConnect());
afterEach(async () => {
  await Promise.all(sessions.map((s) => s.close())); // a sync loop that started by mistake ends here
  sessions = [];
  sent = [];
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('validation table', () => {
  it('has at least 200 malformed inputs', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(200);
  });

  it('control: valid input does leave (and fails differently), so the table can tell the two apart', async () => {
    notEncrypted(ROOM, BASE);
    nock(BASE).put(/\/send\/m\.room\.message\//).reply(500, { errcode: 'M_UNKNOWN', error: 'control' });
    const error = await session()
      .rooms.sendText(ROOM, 'hello')
      .then(() => undefined, (e: unknown) => e);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'MatrixError', httpStatus: 500 });
    expect(sent).toHaveLength(2); // the room's encryption state, then the send
  });

  it.each(CASES)('%s → ValidationError, nothing sent', async (_label, call, value) => {
    let error: unknown;
    try {
      // Some methods throw synchronously, most reject: both count.
      await call(session(), value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(sent).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
});
