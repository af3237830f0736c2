import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as W from '@matrix-org/matrix-sdk-crypto-wasm' with { 'resolution-mode': 'require' };
import { runUia, type UiaAuth } from '../auth/uia';
import type { RequestCore, RequestOptions } from '../core/request';
import { canonicalJson } from '../sync/store';
import { UNDECRYPTABLE, type UndecryptableInfo } from '../sync/types';
import type { ClientEvent, EventEncryptionInfo, JoinedRoom, SyncResponse, SyncRoomEvent } from '../types';
import { CryptoError, CryptoPassphraseError, CryptoStoreError } from './errors';
import { OutgoingRequests, RequestType, type EngineRequest, type OutgoingMachine } from './outgoing';
import { PendingEvents } from './pending';
import { encodeRecoveryKey } from './recovery-key';
import type { BackupRestoreResult, RoomCryptoState, RoomEncryptionContent } from './room-state';
import { DurableStore, IDB_GLOBALS } from './store';
import { loadWasm, type WasmModule } from './wasm';

/** The IndexedDB database name prefix inside the store folder (one folder holds one device's store). */
const DB_NAME = 'matrix-session';
const MEGOLM = 'm.megolm.v1.aes-sha2';
const BACKUP_ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';

export interface EngineOptions {
  storeDir: string;
  passphrase?: string;
  /** Compaction bound of the store's journal (tests use a small one). */
  maxJournalBytes?: number;
}

export interface EngineContext {
  core: RequestCore;
  rooms: RoomCryptoState;
  userId: string;
  deviceId: string;
  /** A failure of background work (the outgoing-requests loop). */
  onError(error: unknown): void;
}


type DecryptResult = { event: SyncRoomEvent } | { failure: UndecryptableInfo };

/**
 * One running OlmMachine: the session's user and device, with its state in a DurableStore.
 * Made by `crypto.start()` (lib/resources/crypto.ts), which is the public face of it.
 */
export class CryptoEngine {
  readonly outgoing: OutgoingRequests;
  #wasm: WasmModule;
  #machine: W.OlmMachine;
  #store: DurableStore;
  #ctx: EngineContext;
  #abort = new AbortController();
  #roomQueues = new Map<string, Promise<unknown>>();
  /**
   * The batch steps under way (receive, prepare): the loop stops waiting for them when it is
   * stopped, but the machine's work inside them goes on, so stop() lets it end before it
   * closes the machine and the store.
   */
  #batchWork = new Set<Promise<unknown>>();
  #pending: PendingEvents;
  #stopped = false;

  private constructor(wasm: WasmModule, machine: W.OlmMachine, store: DurableStore, ctx: EngineContext, pending: PendingEvents) {
    this.#wasm = wasm;
    this.#machine = machine;
    this.#store = store;
    this.#ctx = ctx;
    this.#pending = pending;
    this.outgoing = new OutgoingRequests(machine as unknown as OutgoingMachine, ctx.core, this.#abort.signal, ctx.onError);
    machine.registerRoomKeyUpdatedCallback(async (infos) => {
      for (const info of infos) this.#pending.keyArrived(info.sessionId);
    });
    ctx.rooms.persisted = {
      get: async (roomId) => {
        const settings = await (await machine.getRoomSettings(new wasm.RoomId(roomId)));
        if (!settings) return undefined;
        if (settings.algorithm !== wasm.EncryptionAlgorithm.MegolmV1AesSha2) return { algorithm: 'unknown' };
        return { algorithm: MEGOLM, rotation_period_ms: settings.sessionRotationPeriodMs, rotation_period_msgs: settings.sessionRotationPeriodMessages };
      },
      set: async (roomId, content) => {
        if (content.algorithm !== MEGOLM || this.#stopped) return;
        const settings = new wasm.RoomSettings();
        settings.algorithm = wasm.EncryptionAlgorithm.MegolmV1AesSha2;
        if (Number.isSafeInteger(content.rotation_period_ms)) settings.sessionRotationPeriodMs = content.rotation_period_ms;
        if (Number.isSafeInteger(content.rotation_period_msgs)) settings.sessionRotationPeriodMessages = content.rotation_period_msgs;
        await machine.setRoomSettings(new wasm.RoomId(roomId), settings);
      },
    };
  }

  static async start(ctx: EngineContext, options: EngineOptions): Promise<CryptoEngine> {
    const wasm = loadWasm();
    const store = await DurableStore.open(options.storeDir, { maxJournalBytes: options.maxJournalBytes });
    let machine: W.OlmMachine;
    try {
      machine = await withIndexedDb(store.factory, () =>
        wasm.OlmMachine.initialize(new wasm.UserId(ctx.userId), new wasm.DeviceId(ctx.deviceId), DB_NAME, options.passphrase),
      );
    } catch (error) {
      store.close();
      throw mapInitError(error, options.storeDir);
    }
    const pending = new PendingEvents(join(options.storeDir, 'pending-events.json'));
    const engine = new CryptoEngine(wasm, machine, store, ctx, pending);
    try {
      await engine.#resumeBackup();
    } catch (error) {
      ctx.onError(error);
    }
    // Publishes the device keys (first start) and sends whatever was queued when it stopped.
    await engine.outgoing.run();
    return engine;
  }

  get identityKeys(): { curve25519: string; ed25519: string } {
    const keys = this.#machine.identityKeys;
    return { curve25519: keys.curve25519.toBase64(), ed25519: keys.ed25519.toBase64() };
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops the machine and closes the store (its lock is released). Requests in flight are aborted. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    if (this.#ctx.rooms.persisted) this.#ctx.rooms.persisted = undefined;
    // Let the room sends and the outgoing pass that were running notice the abort and end,
    // so nothing reaches the engine once it is closed (nor the store once it stops journaling).
    await Promise.allSettled([...this.#roomQueues.values(), ...this.#batchWork, this.outgoing.settled()]);
    this.#machine.close();
    this.#store.close();
  }

  // ---- Receiving -------------------------------------------------------------------------

  /** Feeds the batch's to-device events, device list changes and key counts into the machine. */
  receive(body: SyncResponse): Promise<void> {
    return this.#track(this.#receive(body));
  }

  async #receive(body: SyncResponse): Promise<void> {
    const w = this.#wasm;
    const toDevice = Array.isArray(body.to_device?.events) ? body.to_device!.events : [];
    const lists = body.device_lists;
    const changed = userIds(w, lists?.changed);
    const left = userIds(w, lists?.left);
    const counts = new Map<string, number>();
    for (const [algorithm, count] of Object.entries(body.device_one_time_keys_count ?? {})) {
      if (Number.isSafeInteger(count)) counts.set(algorithm, count);
    }
    const fallback = (body as { device_unused_fallback_key_types?: unknown }).device_unused_fallback_key_types;
    const unused = Array.isArray(fallback) ? new Set(fallback.filter((t): t is string => typeof t === 'string')) : undefined;
    await this.#machine.receiveSyncChanges(JSON.stringify(toDevice), new w.DeviceLists(changed, left), counts, unused);
  }

  /**
   * Decrypts the batch's encrypted timeline events in place, and adds the events whose key
   * has arrived since they were undecryptable (before the room's own events of the batch).
   */
  prepare(body: SyncResponse, newMembers: string[]): Promise<boolean> {
    return this.#track(this.#prepare(body, newMembers));
  }

  /** Keeps `work` among the batch steps stop() waits for, until it settles. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#batchWork.add(work);
    const forget = () => void this.#batchWork.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Whether it changed the body (an event decrypted in place, or older ones added). */
  async #prepare(body: SyncResponse, newMembers: string[]): Promise<boolean> {
    if (newMembers.length > 0) await this.#machine.updateTrackedUsers(userIds(this.#wasm, newMembers));
    let changed = false;
    const work: Promise<void>[] = [];
    forEachTimeline(body, (roomId, events) => {
      for (let i = 0; i < events.length; i++) {
        const ev = events[i];
        if (ev?.type !== 'm.room.encrypted') continue;
        work.push(
          this.decrypt(roomId, ev).then((result) => {
            if ('event' in result) {
              events[i] = result.event;
              changed = true;
            } else {
              UNDECRYPTABLE.set(ev, result.failure);
              if (retryable(result.failure)) this.#pending.add(roomId, ev);
            }
          }),
        );
      }
    });
    await Promise.all(work);

    const ready = this.#pending.takeReady();
    if (ready.length > 0) {
      const added = new Map<string, SyncRoomEvent[]>();
      await Promise.all(
        ready.map(async ({ roomId, event }) => {
          const result = await this.decrypt(roomId, event);
          if ('event' in result) {
            let list = added.get(roomId);
            if (!list) added.set(roomId, (list = []));
            list.push(result.event);
          } else if (retryable(result.failure)) this.#pending.add(roomId, event);
        }),
      );
      for (const [roomId, events] of added) {
        events.sort((a, b) => (a.origin_server_ts ?? 0) - (b.origin_server_ts ?? 0));
        const room = roomInBatch(body, roomId);
        room.timeline ??= { events: [] };
        room.timeline.events.unshift(...events);
        changed = true;
      }
    }
    return changed;
  }

  /**
   * After the batch was dispatched and its position saved: the list of undecryptable events
   * is written now (earlier, a crash would lose the ones handed out but not yet delivered),
   * and the outgoing requests the batch caused are sent.
   */
  done(): void {
    try {
      this.#pending.save();
    } catch (error) {
      this.#ctx.onError(error);
    }
    void this.outgoing.run();
  }

  /**
   * Decrypts one room event (from sync or from /messages). The result has the cleartext's
   * type and content, the other fields of the encrypted event, and `encryption`.
   */
  async decrypt(roomId: string, ev: SyncRoomEvent | ClientEvent): Promise<DecryptResult> {
    const w = this.#wasm;
    let decrypted: W.DecryptedRoomEvent;
    try {
      decrypted = await this.#machine.decryptRoomEvent(
        JSON.stringify({ ...ev, room_id: roomId }),
        new w.RoomId(roomId),
        new w.DecryptionSettings(w.TrustRequirement.Untrusted),
      );
    } catch (error) {
      return { failure: failureOf(w, error) };
    }
    let clear: { type?: unknown; content?: unknown };
    try {
      clear = JSON.parse(decrypted.event) as typeof clear;
    } catch {
      return { failure: { code: 'UnableToDecrypt', reason: 'the cleartext is not JSON' } };
    }
    if (typeof clear.type !== 'string' || typeof clear.content !== 'object' || clear.content === null) {
      return { failure: { code: 'UnableToDecrypt', reason: 'the cleartext has no type or content' } };
    }
    const content = { ...(clear.content as Record<string, unknown>) };
    // Relations stay outside the encryption (servers aggregate them): take them from the wire.
    const wire = ev.content as { 'm.relates_to'?: unknown };
    if (content['m.relates_to'] === undefined && wire?.['m.relates_to'] !== undefined) content['m.relates_to'] = wire['m.relates_to'];
    const shield = decrypted.shieldState(false);
    const encryption: EventEncryptionInfo = {
      algorithm: MEGOLM,
      senderDevice: decrypted.senderDevice?.toString(),
      senderCurve25519Key: decrypted.senderCurve25519Key,
      senderClaimedEd25519Key: decrypted.senderClaimedEd25519Key,
      shield: shield.color === w.ShieldColor.None ? 'none' : shield.color === w.ShieldColor.Grey ? 'grey' : 'red',
      shieldMessage: shield.message,
    };
    return { event: { ...ev, type: clear.type, content, encryption } as SyncRoomEvent };
  }

  // ---- Sending ---------------------------------------------------------------------------

  /**
   * Encrypts a message for the room's members: tracks them, runs the key queries, claims
   * missing Olm sessions, shares the room key, then encrypts. One room at a time, so two
   * sends never share a key twice. Returns the `m.room.encrypted` content.
   */
  encrypt(roomId: string, type: string, content: object, settings: RoomEncryptionContent, options?: RequestOptions): Promise<Record<string, unknown>> {
    const previous = this.#roomQueues.get(roomId) ?? Promise.resolve();
    const run = previous.then(
      () => this.#encrypt(roomId, type, content, settings, options),
      () => this.#encrypt(roomId, type, content, settings, options),
    );
    const tail = run.catch(() => undefined);
    this.#roomQueues.set(roomId, tail);
    void tail.then(() => {
      if (this.#roomQueues.get(roomId) === tail) this.#roomQueues.delete(roomId);
    });
    return run;
  }

  async #encrypt(roomId: string, type: string, content: object, settings: RoomEncryptionContent, options?: RequestOptions): Promise<Record<string, unknown>> {
    this.#checkRunning();
    const w = this.#wasm;
    const { users, historyVisibility } = await this.#ctx.rooms.targets(roomId, options);
    await this.#machine.updateTrackedUsers(userIds(w, users));
    await this.outgoing.run();
    this.#checkRunning();
    const claim = await this.#machine.getMissingSessions(userIds(w, users));
    if (claim) await this.outgoing.send(claim as unknown as EngineRequest);
    const encryption = new w.EncryptionSettings();
    encryption.historyVisibility = HISTORY[historyVisibility] ?? w.HistoryVisibility.Shared;
    if (Number.isSafeInteger(settings.rotation_period_ms) && settings.rotation_period_ms! > 0) {
      encryption.rotationPeriod = BigInt(settings.rotation_period_ms!) * 1000n;
    }
    if (Number.isSafeInteger(settings.rotation_period_msgs) && settings.rotation_period_msgs! > 0) {
      encryption.rotationPeriodMessages = BigInt(settings.rotation_period_msgs!);
    }
    const shares = await this.#machine.shareRoomKey(new w.RoomId(roomId), userIds(w, users), encryption);
    await Promise.all(shares.map((r) => this.outgoing.send(r as unknown as EngineRequest)));
    this.#checkRunning();
    const encrypted = await this.#machine.encryptRoomEvent(new w.RoomId(roomId), type, JSON.stringify(content));
    return JSON.parse(encrypted) as Record<string, unknown>;
  }

  // ---- Trust -----------------------------------------------------------------------------

  /** Creates the cross-signing keys (unless held and `reset` is false), uploads them (with UIA) and signs this device. */
  async bootstrapCrossSigning(auth: UiaAuth | undefined, reset: boolean): Promise<boolean> {
    this.#checkRunning();
    const status = await this.#machine.crossSigningStatus();
    if (!reset && status.hasMaster && status.hasSelfSigning && status.hasUserSigning) return false;
    const requests = await this.#machine.bootstrapCrossSigning(true);
    if (requests.uploadKeysRequest) await this.outgoing.send(requests.uploadKeysRequest as EngineRequest);
    const body = JSON.parse(requests.uploadSigningKeysRequest.body) as Record<string, unknown>;
    const send = (a: unknown) =>
      this.#ctx.core.request(
        { method: 'POST', path: '/_matrix/client/v3/keys/device_signing/upload', body: a === undefined ? body : { ...body, auth: a }, idempotency: 'safe' },
        { signal: this.#abort.signal },
      );
    await (auth === undefined ? send(undefined) : runUia(send, auth));
    await this.outgoing.send(requests.uploadSignaturesRequest as unknown as EngineRequest);
    // Read the own keys back, so the engine knows its device as signed (as others will).
    const query = this.#machine.queryKeysForUsers([new this.#wasm.UserId(this.#ctx.userId)]);
    await this.outgoing.send(query as unknown as EngineRequest);
    return true;
  }

  /** Whether this device is cross-signed by its owner (as other users' clients will see it). */
  async isDeviceCrossSigned(): Promise<boolean> {
    this.#checkRunning();
    const w = this.#wasm;
    const device = await this.#machine.getDevice(new w.UserId(this.#ctx.userId), new w.DeviceId(this.#ctx.deviceId));
    return device?.isCrossSignedByOwner() ?? false;
  }

  /** Creates a server-side key backup, keeps its key, starts backing up; returns the recovery key. */
  async createBackup(): Promise<{ recoveryKey: string; version: string }> {
    this.#checkRunning();
    const w = this.#wasm;
    const key = w.BackupDecryptionKey.createRandomKey();
    const publicKey = key.megolmV1PublicKey.publicKeyBase64;
    const authData: Record<string, unknown> = { public_key: publicKey };
    const signatures = await this.#machine.sign(canonicalJson(authData));
    authData.signatures = JSON.parse(signatures.asJSON()) as unknown;
    const res = await this.#ctx.core.request<{ version: string }>(
      { method: 'POST', path: '/_matrix/client/v3/room_keys/version', body: { algorithm: BACKUP_ALGORITHM, auth_data: authData }, required: ['version'] },
      { signal: this.#abort.signal },
    );
    if (typeof res.version !== 'string') throw new CryptoError('The server answered a backup creation without a version');
    await this.#machine.saveBackupDecryptionKey(key, res.version);
    await this.#machine.enableBackupV1(publicKey, res.version);
    void this.outgoing.run();
    return { recoveryKey: encodeRecoveryKey(Buffer.from(key.toBase64(), 'base64')), version: res.version };
  }

  /** Downloads the current backup and imports its room keys, decrypted with the backup's private key (32 bytes). */
  async restoreBackup(privateKey: Buffer): Promise<BackupRestoreResult> {
    this.#checkRunning();
    const w = this.#wasm;
    let key: W.BackupDecryptionKey;
    try {
      key = w.BackupDecryptionKey.fromBase64(privateKey.toString('base64'));
    } catch {
      throw new CryptoError('The recovery key is not a valid key');
    }
    const signal = this.#abort.signal;
    const info = await this.#ctx.core.request<{ version?: unknown; algorithm?: unknown; auth_data?: { public_key?: unknown } }>(
      { method: 'GET', path: '/_matrix/client/v3/room_keys/version', required: ['version'] },
      { signal },
    );
    const version = info.version;
    if (typeof version !== 'string' || info.algorithm !== BACKUP_ALGORITHM) throw new CryptoError('The server holds no backup this SDK can read');
    if (info.auth_data?.public_key !== key.megolmV1PublicKey.publicKeyBase64) {
      throw new CryptoError('The recovery key does not belong to the current backup');
    }
    const data = await this.#ctx.core.request<{ rooms?: unknown }>(
      { method: 'GET', path: '/_matrix/client/v3/room_keys/keys', query: { version } },
      { signal },
    );
    const byRoom = new Map<W.RoomId, Map<string, unknown>>();
    let total = 0;
    if (typeof data.rooms === 'object' && data.rooms !== null) {
      for (const [roomId, room] of Object.entries(data.rooms as Record<string, { sessions?: unknown }>)) {
        if (typeof room?.sessions !== 'object' || room.sessions === null) continue;
        const sessions = new Map<string, unknown>();
        for (const [sessionId, backedUp] of Object.entries(room.sessions as Record<string, { session_data?: Record<string, unknown> }>)) {
          const d = backedUp?.session_data;
          if (typeof d?.ephemeral !== 'string' || typeof d.mac !== 'string' || typeof d.ciphertext !== 'string') continue;
          total++;
          try {
            sessions.set(sessionId, JSON.parse(key.decryptV1(d.ephemeral, d.mac, d.ciphertext)));
          } catch {
            // A key that does not decrypt is skipped; `imported` shows how many did.
          }
        }
        try {
          if (sessions.size > 0) byRoom.set(new w.RoomId(roomId), sessions);
        } catch {
          // Not a room ID: skipped.
        }
      }
    }
    const result = await this.#machine.importBackedUpRoomKeys(byRoom, () => undefined, version);
    // This device carries on backing up to the same backup.
    await this.#machine.saveBackupDecryptionKey(key, version);
    await this.#machine.enableBackupV1(key.megolmV1PublicKey.publicKeyBase64, version);
    return { total, imported: result.importedCount, version };
  }

  /** The backup version being written to, if any. */
  async backupVersion(): Promise<string | undefined> {
    this.#checkRunning();
    if (!(await this.#machine.isBackupEnabled())) return undefined;
    return (await this.#machine.getBackupKeys()).backupVersion;
  }

  /** A backup created earlier (by this device or restored) is written to again after a restart. */
  async #resumeBackup(): Promise<void> {
    const keys = await this.#machine.getBackupKeys();
    const key = keys.decryptionKey;
    const version = keys.backupVersion;
    if (key && version) await this.#machine.enableBackupV1(key.megolmV1PublicKey.publicKeyBase64, version);
  }

  #checkRunning(): void {
    if (this.#stopped) throw new CryptoError('Encryption was stopped');
  }
}

const HISTORY: Record<string, number> = { invited: 0, joined: 1, shared: 2, world_readable: 3 };

function userIds(w: WasmModule, users: unknown): W.UserId[] {
  const out: W.UserId[] = [];
  if (!Array.isArray(users)) return out;
  for (const u of users) {
    if (typeof u !== 'string') continue;
    try {
      out.push(new w.UserId(u));
    } catch {
      // Not a user ID (a hostile server's list): skipped.
    }
  }
  return out;
}

/** Undecryptable events whose key may still come (a later to-device message, a backup). */
function retryable(info: UndecryptableInfo): boolean {
  return info.code === 'MissingRoomKey' || info.code === 'UnknownMessageIndex';
}

function failureOf(w: WasmModule, error: unknown): UndecryptableInfo {
  if (error instanceof w.MegolmDecryptionError) {
    const info: UndecryptableInfo = { code: w.DecryptionErrorCode[error.code] ?? 'UnableToDecrypt', reason: error.description };
    if (error.withheldCode) info.withheldCode = error.withheldCode;
    return info;
  }
  return { code: 'UnableToDecrypt', reason: error instanceof Error ? error.message : String(error) };
}

function forEachTimeline(body: SyncResponse, visit: (roomId: string, events: SyncRoomEvent[]) => void): void {
  for (const section of [body.rooms?.join, body.rooms?.leave]) {
    if (!section) continue;
    for (const roomId in section) {
      const events = section[roomId]?.timeline?.events;
      if (Array.isArray(events)) visit(roomId, events);
    }
  }
}

/** The room's entry in the batch (joined or left), made in `join` when the batch has none. */
function roomInBatch(body: SyncResponse, roomId: string): JoinedRoom {
  body.rooms ??= {};
  const left = body.rooms.leave?.[roomId];
  if (left) return left as JoinedRoom;
  body.rooms.join ??= {};
  return (body.rooms.join[roomId] ??= {});
}

/**
 * Sets the global `indexedDB` to the store's factory while the engine opens its databases
 * (it reads the global then), and the IDB* classes it checks values against where absent.
 * The app's own `indexedDB`, if any, is put back at once.
 */
async function withIndexedDb<T>(factory: unknown, open: () => Promise<T>): Promise<T> {
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(IDB_GLOBALS)) {
    if (g[name] === undefined) g[name] = value;
    else if (g[name] !== value) {
      throw new CryptoStoreError(`globalThis.${name} is another IndexedDB implementation than the one the crypto store uses`);
    }
  }
  const had = Object.prototype.hasOwnProperty.call(g, 'indexedDB');
  const previous = g.indexedDB;
  g.indexedDB = factory;
  try {
    return await open();
  } finally {
    if (had) g.indexedDB = previous;
    else delete g.indexedDB;
  }
}

function mapInitError(error: unknown, storeDir: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/failed to be decrypted|unpickl/i.test(message) && existsSync(storeDir)) return new CryptoPassphraseError();
  if (/account .*doesn't match|the account in the store/i.test(message)) {
    return new CryptoStoreError(`The crypto store in ${storeDir} belongs to another user or device`, error);
  }
  return new CryptoStoreError(`The encryption engine could not start: ${message}`, error);
}

export { RequestType };
