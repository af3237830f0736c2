// The sync loop against a real Synapse: delivery (in order, exactly once), a homeserver that
// goes away and comes back, a client restarted from its file store, throwing listeners.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixSession } from '../../lib';
import { FileSyncStore } from '../../lib/sync/store';
import type { SyncErrorInfo, SyncState } from '../../lib/sync/types';
import { uniqueName } from '../harness/env';
import { startSynapse, type SynapseHandle } from '../harness/synapse';
import { eventually, newUser, PASSWORD } from './helpers';

// A timeline limit above any batch these tests produce: a gap (limited timeline) would drop messages.
const FILTER = { room: { timeline: { limit: 500 } } };
// Fast backoff, so reconnecting takes a fraction of a second.
const FAST = { backoffBaseMs: 50, backoffMaxMs: 500 };

const sessions: MatrixSession[] = [];
const track = (s: MatrixSession): MatrixSession => (sessions.push(s), s);

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.sync.stop()));
});

/** alice creates a room and invites bob; bob joins. */
async function pair(newSession: (prefix: string) => Promise<MatrixSession>) {
  const alice = track(await newSession('alice'));
  const bob = track(await newSession('bob'));
  const { room_id: roomId } = await alice.rooms.create({ invite: [bob.userId!], preset: 'private_chat' });
  await bob.rooms.join(roomId);
  return { alice, bob, roomId };
}

/** Collects the bodies of alice's messages in the room, as bob's loop delivers them. */
function collect(s: MatrixSession, roomId: string, sender: string) {
  const bodies: string[] = [];
  const ids = new Set<string>();
  let duplicates = 0;
  s.on('room.message', (rid, ev) => {
    if (rid !== roomId || ev.sender !== sender) return;
    if (ids.has(ev.event_id)) duplicates++;
    ids.add(ev.event_id);
    bodies.push(String(ev.content.body));
  });
  return { bodies, duplicates: () => duplicates };
}

function stateLog(s: MatrixSession): SyncState[] {
  const states: SyncState[] = [];
  s.on('sync', (state) => void states.push(state));
  return states;
}

async function sendAll(s: MatrixSession, roomId: string, bodies: string[]): Promise<void> {
  for (const body of bodies) await s.rooms.sendText(roomId, body);
}

const range = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

describe('sync loop (Synapse)', () => {
  it('delivers 200 messages sent by one user to the other user, in order, each exactly once', async () => {
    const { alice, bob, roomId } = await pair(newUser);
    const got = collect(bob, roomId, alice.userId!);
    const states = stateLog(bob);
    await bob.sync.start({ filter: FILTER, timeout: 10_000 });
    await eventually(async () => states.includes('PREPARED'));

    const sent = range('m', 0, 200);
    await sendAll(alice, roomId, sent);
    await eventually(async () => got.bodies.length >= 200, { timeoutMs: 30_000 });

    expect(got.bodies).toEqual(sent);
    expect(got.duplicates()).toBe(0);
    await bob.sync.stop();
    expect(states.at(-1)).toBe('STOPPED');
    expect(states.filter((s) => s === 'RECONNECTING' || s === 'ERROR')).toEqual([]);
  }, 60_000);

  it('a listener that throws on every third message: the other listeners get every message, sync.error reports each throw', async () => {
    const { alice, bob, roomId } = await pair(newUser);
    const got = collect(bob, roomId, alice.userId!);
    const errors: Array<[unknown, SyncErrorInfo]> = [];
    let n = 0;
    bob.on('room.message', (rid, ev) => {
      if (rid === roomId && ev.sender === alice.userId && ++n % 3 === 0) throw new Error(`listener failed on ${ev.content.body}`);
    });
    const afterThrower = collect(bob, roomId, alice.userId!); // registered after the thrower
    bob.on('sync.error', (e, info) => void errors.push([e, info]));
    const states = stateLog(bob);
    await bob.sync.start({ filter: FILTER });
    await eventually(async () => states.includes('PREPARED'));

    const sent = range('t', 0, 30);
    await sendAll(alice, roomId, sent);
    await eventually(async () => afterThrower.bodies.length >= 30, { timeoutMs: 20_000 });

    expect(got.bodies).toEqual(sent);
    expect(afterThrower.bodies).toEqual(sent);
    expect(errors.map(([e, i]) => [(e as Error).message, i.source, i.event])).toEqual(
      range('t', 0, 30)
        .filter((_, i) => (i + 1) % 3 === 0)
        .map((body) => [`listener failed on ${body}`, 'listener', 'room.message']),
    );
    expect(bob.sync.running).toBe(true);
  }, 60_000);

  it('autoJoin: the loop joins the room it is invited to and reports room.join', async () => {
    const alice = track(await newUser('alice'));
    const bob = track(await newUser('bob'));
    const joins: string[] = [];
    const invites: string[] = [];
    bob.on('room.invite', (rid) => void invites.push(rid));
    bob.on('room.join', (rid) => void joins.push(rid));
    const states = stateLog(bob);
    await bob.sync.start({ autoJoin: true });
    await eventually(async () => states.includes('PREPARED'));
    const { room_id: roomId } = await alice.rooms.create({ invite: [bob.userId!] });
    await eventually(async () => joins.includes(roomId), { timeoutMs: 20_000 });
    expect(invites).toContain(roomId);
    expect((await bob.rooms.joined()).joined_rooms).toContain(roomId);
  }, 60_000);

  it('restarted client: a new session on the same file store gets every message, none twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-it-'));
    try {
      const file = join(dir, 'bob-sync.json');
      const { alice, bob, roomId } = await pair(newUser);
      const first = collect(bob, roomId, alice.userId!);
      const states = stateLog(bob);
      await bob.sync.start({ filter: FILTER, store: new FileSyncStore(file) });
      await eventually(async () => states.includes('PREPARED'));

      const sent = range('r', 0, 80);
      const sending = sendAll(alice, roomId, sent);
      await eventually(async () => first.bodies.length >= 25, { timeoutMs: 20_000 });
      await bob.sync.stop(); // in the middle of the stream: alice is still sending
      const stoppedAt = first.bodies.length;

      const bob2 = track(
        new MatrixSession({ baseUrl: bob.baseUrl, accessToken: bob.getAccessToken(), userId: bob.userId, deviceId: bob.deviceId }),
      );
      const second = collect(bob2, roomId, alice.userId!);
      await bob2.sync.start({ filter: FILTER, store: new FileSyncStore(file) });
      await sending;
      await eventually(async () => first.bodies.length + second.bodies.length >= sent.length, { timeoutMs: 20_000 });

      expect(first.bodies.length).toBe(stoppedAt); // the stopped loop delivered nothing more
      expect(stoppedAt).toBeLessThan(sent.length); // the stop really was in the middle
      expect([...first.bodies, ...second.bodies]).toEqual(sent);
      expect(first.duplicates() + second.duplicates()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  describe('with a homeserver of its own', () => {
    let hs: SynapseHandle;

    beforeAll(async () => {
      hs = await startSynapse({ log: () => undefined });
    }, 120_000);

    afterAll(async () => {
      if (!hs) return;
      await hs.stop();
      rmSync(hs.dataDir, { recursive: true, force: true });
    }, 30_000);

    const newUserOnHs = async (prefix: string): Promise<MatrixSession> => {
      const s = new MatrixSession({ baseUrl: hs.baseUrl });
      await s.account.register({ username: uniqueName(prefix), password: PASSWORD });
      return s;
    };

    it('survives the homeserver going away: RECONNECTING, then SYNCING once it is back; every message once', async () => {
      const { alice, bob, roomId } = await pair(newUserOnHs);
      const got = collect(bob, roomId, alice.userId!);
      const states = stateLog(bob);
      const failures: SyncErrorInfo[] = [];
      bob.on('sync.error', (_e, info) => void failures.push(info));
      await bob.sync.start({ filter: FILTER, ...FAST });
      await eventually(async () => states.includes('PREPARED'));

      const before = range('b', 0, 10);
      await sendAll(alice, roomId, before);
      await eventually(async () => got.bodies.length >= 10, { timeoutMs: 20_000 });

      await hs.stop(); // the loop is in its long poll
      await eventually(async () => states.includes('RECONNECTING'), { timeoutMs: 20_000 });
      await hs.start();

      const after = range('a', 0, 50);
      await sendAll(alice, roomId, after);
      await eventually(async () => got.bodies.length >= 60, { timeoutMs: 30_000 });

      expect(got.bodies).toEqual([...before, ...after]);
      expect(got.duplicates()).toBe(0);
      const down = states.indexOf('RECONNECTING');
      expect(states.slice(down + 1)).toContain('SYNCING');
      expect(states.at(-1)).toBe('SYNCING');
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((f) => typeof f.retryInMs === 'number' && f.retryInMs <= FAST.backoffMaxMs)).toBe(true);
      expect(bob.sync.running).toBe(true);
    }, 90_000);
  });
});
