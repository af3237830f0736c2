// Shared set-up for the encryption specs: users with encryption started on a fresh store folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MatrixSession, SyncRoomEvent } from '../../lib';
import { itEnv } from '../harness/env';
import { eventually, newUser } from './helpers';

const dirs: string[] = [];
const sessions: MatrixSession[] = [];

/** A fresh store folder, removed after the test. */
export function storeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ms-crypto-'));
  dirs.push(dir);
  return dir;
}

/** Closed (sync and crypto stopped) after the test. */
export function track<S extends MatrixSession>(s: S): S {
  sessions.push(s);
  return s;
}

/** A new user with encryption started and its sync loop running (when `sync`). */
export async function cryptoUser(prefix: string, opts: { sync?: boolean; dir?: string } = {}): Promise<MatrixSession> {
  const s = track(await newUser(prefix));
  await s.crypto.start({ storeDir: opts.dir ?? storeDir() });
  if (opts.sync !== false) await startSync(s);
  return s;
}

export async function startSync(s: MatrixSession): Promise<void> {
  await s.sync.start({ timeout: 2_000, filter: { room: { timeline: { limit: 200 } } } });
}

export async function cleanUp(): Promise<void> {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Collects the room's timeline events as the session's loop delivers them (decrypted when it can). */
export function inbox(s: MatrixSession, roomId: string) {
  const events: SyncRoomEvent[] = [];
  const undecryptable: { event: SyncRoomEvent; code: string }[] = [];
  s.on('room.event', (rid, ev) => {
    if (rid === roomId && ev.type !== 'm.room.encrypted') events.push(ev);
  });
  s.on('room.undecryptable', (rid, ev, info) => {
    if (rid === roomId) undecryptable.push({ event: ev, code: info.code });
  });
  return {
    events,
    undecryptable,
    messages: () => events.filter((e) => e.type === 'm.room.message'),
    /** Waits for an event matching `pred`. */
    waitFor: (pred: (e: SyncRoomEvent) => boolean, timeoutMs = 20_000) =>
      eventually(async () => events.find(pred), { timeoutMs }),
  };
}

/** alice creates an encrypted room and invites bob, who joins; both loops must be running. */
export async function encryptedPair(alice: MatrixSession, bob: MatrixSession): Promise<string> {
  const { room_id: roomId } = await alice.rooms.create({ invite: [bob.userId!], preset: 'private_chat', encrypted: true });
  await bob.rooms.join(roomId);
  return roomId;
}

/** Waits until the user's current key backup holds at least `count` room keys (they are uploaded in the background). */
export async function backedUp(user: MatrixSession, count = 1): Promise<void> {
  await eventually(
    async () => {
      const res = await fetch(`${itEnv().baseUrl}/_matrix/client/v3/room_keys/version`, { headers: { Authorization: `Bearer ${user.getAccessToken()}` } });
      return ((await res.json()) as { count?: number }).count! >= count;
    },
    { timeoutMs: 60_000, everyMs: 250 },
  );
}

/**
 * `owner` creates a key backup, then `sender` sends `bodies` into their encrypted room: resolves
 * once `owner` has received them and their room key is in the backup.
 */
export async function backedUpHistory(owner: MatrixSession, sender: MatrixSession, bodies: string[]) {
  const roomId = await encryptedPair(owner, sender);
  const recoveryKey = await owner.crypto.createBackup();
  // The spec's recovery key: base58, 12 groups of 4 (decoded and checked in spec/crypto/recovery-key.spec.ts).
  expect(recoveryKey).toMatch(/^[1-9A-HJ-NP-Za-km-z]{4}( [1-9A-HJ-NP-Za-km-z]{4}){11}$/);
  const { backupVersion } = await owner.crypto.status();
  expect(backupVersion).toBeDefined();
  const got = inbox(owner, roomId);
  const sent: string[] = [];
  for (const body of bodies) sent.push((await sender.rooms.sendText(roomId, body)).event_id);
  await got.waitFor((e) => e.event_id === sent[sent.length - 1]);
  await backedUp(owner);
  return { roomId, recoveryKey, backupVersion: backupVersion!, sent };
}
