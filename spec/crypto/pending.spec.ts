// The waiting list of undecryptable events: by session, deduplicated, bounded, kept on disk.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_PENDING, PendingEvents } from '../../lib/crypto/pending';
import type { SyncRoomEvent } from '../../lib';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ms-pending-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ev = (id: string, session: unknown = 's1') =>
  ({ type: 'm.room.encrypted', event_id: id, sender: '@a:x', origin_server_ts: 1, content: { session_id: session } }) as unknown as SyncRoomEvent;

describe('PendingEvents', () => {
  it('hands out the events of a session whose key arrived, once', () => {
    const p = new PendingEvents(join(dir, 'p.json'));
    p.add('!r:x', ev('$1'));
    p.add('!r:x', ev('$1')); // the same event twice (a replayed batch): kept once
    p.add('!r:x', ev('$2', 's2'));
    p.add('!r:x', ev('$3', 5)); // no session ID: nothing to wait for
    expect(p.size).toBe(2);
    p.keyArrived('unknown');
    p.keyArrived('s1');
    expect(p.takeReady().map((e) => e.event.event_id)).toEqual(['$1']);
    expect(p.takeReady()).toEqual([]);
    expect(p.size).toBe(1);
  });

  it('is saved when changed, and a new start tries every saved event again', () => {
    const file = join(dir, 'p.json');
    const p = new PendingEvents(file);
    p.add('!r:x', ev('$1'));
    p.add('!r:x', ev('$2', 's2'));
    p.save();
    const saved = readFileSync(file, 'utf8');
    p.save(); // unchanged: not written again
    expect(readFileSync(file, 'utf8')).toBe(saved);
    const again = new PendingEvents(file);
    expect(again.takeReady().map((e) => e.event.event_id).sort()).toEqual(['$1', '$2']);
  });

  it('keeps the newest MAX_PENDING, and survives a damaged file', () => {
    const p = new PendingEvents(join(dir, 'p.json'));
    for (let i = 0; i < MAX_PENDING + 3; i++) p.add('!r:x', ev(`$${i}`, `s${i % 7}`));
    expect(p.size).toBe(MAX_PENDING);
    writeFileSync(join(dir, 'bad.json'), '{not json');
    expect(new PendingEvents(join(dir, 'bad.json')).size).toBe(0);
    writeFileSync(join(dir, 'odd.json'), JSON.stringify([{ roomId: 5 }, null, { roomId: '!r:x', event: ev('$x') }]));
    expect(new PendingEvents(join(dir, 'odd.json')).size).toBe(1);
  });
});
