// Gaps on a real Synapse: more messages arrive in a room than its timeline limit (Synapse's
// default is 10), so /sync answers with `limited: true`; the loop pages /messages back to
// the last event it delivered and hands over every event once, in timeline order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixSession, type ClientEvent, type RoomGap, type RoomTimeline, type SyncErrorInfo } from '../../lib';
import { FileSyncStore } from '../../lib/sync/store';
import { eventually, newUser } from './helpers';

const sessions: MatrixSession[] = [];
const track = (s: MatrixSession): MatrixSession => (sessions.push(s), s);
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.sync.stop()));
});

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** What a session's loop hands over: message bodies per room (from one sender), gaps, errors, requests. */
function watch(s: MatrixSession, sender: string) {
  const bodies = new Map<string, string[]>();
  const ids = new Set<string>();
  let duplicates = 0;
  const gaps: RoomGap[] = [];
  const timelines = new Map<string, RoomTimeline[]>();
  const errors: Array<[unknown, SyncErrorInfo]> = [];
  s.on('room.message', (roomId, ev) => {
    expect(ev.room_id).toBe(roomId);
    if (ev.sender !== sender) return;
    if (ids.has(ev.event_id)) duplicates++;
    ids.add(ev.event_id);
    const list = bodies.get(roomId) ?? [];
    list.push(String(ev.content.body));
    bodies.set(roomId, list);
  });
  s.on('room.gap', (gap) => void gaps.push(gap));
  s.on('room.timeline', (t) => void timelines.set(t.roomId, [...(timelines.get(t.roomId) ?? []), { ...t, events: [...t.events] }]));
  s.on('sync.error', (e, info) => void errors.push([e, info]));
  return { of: (roomId: string) => bodies.get(roomId) ?? [], duplicates: () => duplicates, gaps, timelines, errors };
}

/** A session of the same user and device (a restarted bot), with a logger that records the paths it requests. */
function sameDevice(s: MatrixSession, paths: string[] = []): MatrixSession {
  return track(
    new MatrixSession({
      baseUrl: s.baseUrl,
      accessToken: s.getAccessToken(),
      userId: s.userId,
      deviceId: s.deviceId,
      logger: (line) => {
        if (line.startsWith('-> ')) paths.push(line.slice(3));
      },
    }),
  );
}

async function sendAll(s: MatrixSession, roomId: string, bodies: string[]): Promise<void> {
  for (const body of bodies) await s.rooms.sendText(roomId, body);
}

/** The room's messages from `sender`, oldest first, as the server orders its timeline. */
async function serverOrder(s: MatrixSession, roomId: string, sender: string): Promise<string[]> {
  const out: ClientEvent[] = [];
  let from: string | undefined;
  for (;;) {
    const page = await s.rooms.messages(roomId, { dir: 'b', from, limit: 500 });
    out.push(...page.chunk);
    if (!page.end || page.chunk.length === 0) break;
    from = page.end;
  }
  return out
    .filter((e) => e.type === 'm.room.message' && e.sender === sender)
    .reverse()
    .map((e) => String(e.content.body));
}

describe('sync gaps (Synapse, default timeline limit)', () => {
  it('a bot stopped while 150 + 20 messages arrive in two rooms gets all 170 on restart, once each, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-gaps-'));
    try {
      const file = join(dir, 'bot-sync.json');
      const alice = track(await newUser('alice'));
      const bot = track(await newUser('bot'));
      const rooms: string[] = [];
      for (let i = 0; i < 2; i++) {
        const { room_id } = await alice.rooms.create({ invite: [bot.userId!], preset: 'private_chat' });
        await bot.rooms.join(room_id);
        await alice.rooms.sendText(room_id, 'before');
        rooms.push(room_id);
      }
      const [big, small] = rooms;
      const first = watch(bot, alice.userId!);
      await bot.sync.start({ store: new FileSyncStore(file), waitForFirstBatch: true });
      await eventually(async () => first.of(big).length === 1 && first.of(small).length === 1);
      await bot.sync.stop();

      const many = range('big-', 150);
      const few = range('small-', 20);
      await sendAll(alice, big, many);
      await sendAll(alice, small, few);

      const requested: string[] = [];
      const restarted = sameDevice(bot, requested);
      const second = watch(restarted, alice.userId!);
      await restarted.sync.start({ store: new FileSyncStore(file) });
      await eventually(async () => second.of(big).length + second.of(small).length >= 170, { timeoutMs: 30_000 });

      expect(second.of(big)).toEqual(many);
      expect(second.of(small)).toEqual(few);
      expect(second.duplicates()).toBe(0);
      expect(second.gaps).toEqual([]);
      expect(second.errors).toEqual([]);
      // Synapse really cut both timelines: the missing events came from /messages.
      expect(requested.filter((p) => p.includes(`/rooms/${encodeURIComponent(big)}/messages`)).length).toBeGreaterThanOrEqual(2);
      expect(requested.filter((p) => p.includes(`/rooms/${encodeURIComponent(small)}/messages`)).length).toBeGreaterThanOrEqual(1);
      const delivered = second.timelines.get(big)!;
      expect(delivered[0].limited).toBe(false); // filled: no gap left before these events
      expect(delivered[0].events.filter((e) => e.type === 'm.room.message').length).toBe(150);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('a burst of 200 messages sent at once by another user reaches the running loop, each once, in the server order', async () => {
    const alice = track(await newUser('alice'));
    const user = track(await newUser('bot'));
    const { room_id: roomId } = await alice.rooms.create({ invite: [user.userId!], preset: 'private_chat' });
    await user.rooms.join(roomId);
    const bot = sameDevice(user);
    const got = watch(bot, alice.userId!);
    await bot.sync.start({ waitForFirstBatch: true });

    const sent = range('burst-', 200);
    await Promise.all(sent.map((body) => alice.rooms.sendText(roomId, body)));
    await eventually(async () => got.of(roomId).length >= 200, { timeoutMs: 30_000 });

    const order = await serverOrder(alice, roomId, alice.userId!);
    expect(order).toHaveLength(200);
    expect(got.of(roomId)).toEqual(order);
    expect([...got.of(roomId)].sort()).toEqual([...sent].sort());
    expect(got.duplicates()).toBe(0);
    expect(got.gaps).toEqual([]);
    expect(got.errors).toEqual([]);
    // Whether Synapse cut a timeline depends on timing (typically several times: 9 /messages
    // pages for 14 syncs in one run); every event arriving once, in order, does not.
  }, 90_000);

  it('a room joined with a long history: no back-fill past the join, a room.gap (unknown_position) and no error; later messages flow', async () => {
    const alice = track(await newUser('alice'));
    const bot = track(await newUser('bot'));
    const { room_id: roomId } = await alice.rooms.create({ preset: 'public_chat' });
    const history = range('old-', 40);
    await sendAll(alice, roomId, history);

    const requested: string[] = [];
    const watched = sameDevice(bot, requested);
    const got = watch(watched, alice.userId!);
    const joins: string[] = [];
    watched.on('room.join', (rid) => void joins.push(rid));
    await watched.sync.start({ waitForFirstBatch: true });
    await bot.rooms.join(roomId);
    await eventually(async () => joins.includes(roomId), { timeoutMs: 20_000 });

    // Synapse's first sync of a newly joined room: the newest events (its timeline limit, 10),
    // the join among them, `limited: true` and a prev_batch into the history before.
    const [first] = got.timelines.get(roomId)!;
    expect(first.limited).toBe(true);
    expect(typeof first.prevBatch).toBe('string');
    expect(first.events.length).toBeLessThanOrEqual(10);
    expect(first.events.at(-1)).toMatchObject({ type: 'm.room.member', state_key: bot.userId, content: { membership: 'join' } });
    expect(got.gaps).toEqual([{ roomId, prevBatch: first.prevBatch, reason: 'unknown_position', filled: 0 }]);
    expect(got.of(roomId)).toEqual(history.slice(history.length - got.of(roomId).length)); // at most the tail
    expect(got.of(roomId).length).toBeLessThan(10);
    expect(requested.filter((p) => p.includes('/messages'))).toEqual([]);

    const later = range('new-', 15); // more than the limit again: now filled from the join on
    await watched.sync.stop();
    await sendAll(alice, roomId, later);
    await watched.sync.start();
    await eventually(async () => got.of(roomId).includes('new-14'), { timeoutMs: 20_000 });
    expect(got.of(roomId).slice(-15)).toEqual(later);
    expect(got.gaps).toHaveLength(1);
    expect(got.errors).toEqual([]);
    expect(got.duplicates()).toBe(0);
  }, 90_000);
});
