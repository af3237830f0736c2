import { MatrixError } from '../core/errors';
import { untilAborted } from '../core/retry';
import { path } from '../core/path';
import type { RequestCore, RequestOptions } from '../core/request';
import type { JoinedRoom, SyncResponse, SyncRoomEvent } from '../types';

/** `m.room.encryption` content, as far as the SDK reads it. */
export interface RoomEncryptionContent {
  /** The algorithm; the SDK encrypts only with `m.megolm.v1.aes-sha2`. */
  algorithm: string;
  /** How long a room key is used before a new one is made, in ms. */
  rotation_period_ms?: number;
  /** How many messages a room key encrypts before a new one is made. */
  rotation_period_msgs?: number;
  [field: string]: unknown;
}

/** What `crypto.restoreBackup` reports. */
export interface BackupRestoreResult {
  /** Room keys in the backup. */
  total: number;
  /** Room keys imported (new or better than the ones held). */
  imported: number;
  /** The backup version the keys came from (and this device now backs up to). */
  version: string;
}

/** The members a room key goes to, and what the sharing needs to know. */
export interface EncryptionTargets {
  users: string[];
  historyVisibility: string;
}

/** Where the engine keeps rooms' encryption across restarts (its room settings), while it runs. */
export interface PersistedRoomSettings {
  get(roomId: string): Promise<RoomEncryptionContent | undefined>;
  set(roomId: string, content: RoomEncryptionContent): Promise<void>;
}

/** A room found not encrypted is asked again after this long, unless the sync loop is reporting its state. */
const NOT_ENCRYPTED_TTL_MS = 60_000;
const MAX_ROOMS = 10_000;

/**
 * What the SDK knows of rooms' encryption, without the engine: which rooms are encrypted
 * (from `m.room.encryption` state events seen in sync, or asked for with GET
 * /rooms/{roomId}/state/m.room.encryption, a 404 meaning not encrypted), and, for
 * encrypted rooms a message is sent into, the members and history visibility. It feeds
 * the one send decision in `rooms.sendEvent`: an encrypted room never gets a clear event.
 */
export class RoomCryptoState {
  /** roomId → the encryption content, or the time it was found not encrypted. */
  #encryption = new Map<string, RoomEncryptionContent | number>();
  /** Member lists of encrypted rooms, loaded at the first send and kept current from sync. */
  #members = new Map<string, Map<string, string>>();
  #history = new Map<string, string>();
  #lookups = new Map<string, Promise<RoomEncryptionContent | null>>();

  /** Set by the engine while it runs: a room known encrypted before a restart needs no state fetch. */
  persisted?: PersistedRoomSettings;

  constructor(
    private readonly core: RequestCore,
    /** While the sync loop runs, a room becoming encrypted arrives as a state event: "not encrypted" stays true. */
    private readonly syncing: () => boolean,
  ) {}

  /** The room's encryption content if known to be encrypted, `null` if known not to be, `undefined` if unknown. */
  known(roomId: string): RoomEncryptionContent | null | undefined {
    const entry = this.#encryption.get(roomId);
    if (entry === undefined) return undefined;
    if (typeof entry !== 'number') return entry;
    if (this.syncing() || Date.now() - entry < NOT_ENCRYPTED_TTL_MS) return null;
    this.#encryption.delete(roomId);
    return undefined;
  }

  /** Records a room's encryption (from a state event or the engine's store). Encryption is never turned off. */
  setEncrypted(roomId: string, content: RoomEncryptionContent): void {
    const known = this.#encryption.get(roomId);
    if (this.#encryption.size >= MAX_ROOMS && known === undefined) this.#forgetOne();
    this.#encryption.set(roomId, content);
    const same =
      typeof known === 'object' &&
      known.algorithm === content.algorithm &&
      known.rotation_period_ms === content.rotation_period_ms &&
      known.rotation_period_msgs === content.rotation_period_msgs;
    // The engine's own record is best effort: the state events stay the authority.
    if (!same) void this.persisted?.set(roomId, content).catch(() => undefined);
  }

  /**
   * Whether the room is encrypted: from what is known, else GET
   * /rooms/{roomId}/state/m.room.encryption (404: not encrypted). Other failures are thrown:
   * not knowing is never taken as "not encrypted".
   */
  async encryption(roomId: string, options?: RequestOptions): Promise<RoomEncryptionContent | null> {
    const known = this.known(roomId);
    if (known !== undefined) return known;
    // Concurrent first sends into a room share one lookup (each still honours its own signal).
    let lookup = this.#lookups.get(roomId);
    if (!lookup) {
      lookup = this.#lookup(roomId, options).finally(() => this.#lookups.delete(roomId));
      this.#lookups.set(roomId, lookup);
    }
    if (!options?.signal) return lookup;
    return untilAborted(lookup, options.signal, { method: 'GET', path: encryptionStatePath(roomId) });
  }

  async #lookup(roomId: string, options?: RequestOptions): Promise<RoomEncryptionContent | null> {
    const saved = await this.persisted?.get(roomId).catch(() => undefined);
    if (saved) {
      this.#encryption.set(roomId, saved);
      return saved;
    }
    try {
      const content = await this.core.request<Record<string, unknown>>(
        { method: 'GET', path: encryptionStatePath(roomId) },
        { timeoutMs: options?.timeoutMs, maxRetries: options?.maxRetries },
      );
      const encryption = encryptionOf(content);
      this.setEncrypted(roomId, encryption);
      return encryption;
    } catch (error) {
      if (error instanceof MatrixError && error.httpStatus === 404 && error.errcode === 'M_NOT_FOUND') return this.#markPlain(roomId);
      throw error;
    }
  }

  /**
   * Takes what a sync batch says: encryption state events, and member and history
   * visibility changes of rooms whose members are loaded. Returns the users who joined or
   * were invited to encrypted rooms (to be tracked by the engine).
   */
  observe(body: SyncResponse): string[] {
    const joined: string[] = [];
    const rooms = body.rooms;
    if (!rooms) return joined;
    for (const section of [rooms.join, rooms.leave]) {
      if (!section) continue;
      for (const roomId in section) {
        const room = section[roomId] as JoinedRoom | undefined;
        if (!room) continue;
        this.#observeEvents(roomId, room.state?.events, joined);
        this.#observeEvents(roomId, room.timeline?.events, joined);
        this.#observeEvents(roomId, room.state_after?.events, joined);
      }
    }
    return joined;
  }

  #observeEvents(roomId: string, events: SyncRoomEvent[] | undefined, joined: string[]): void {
    if (!Array.isArray(events)) return;
    for (const ev of events) {
      if (typeof ev !== 'object' || ev === null || ev.state_key === undefined || typeof ev.content !== 'object' || ev.content === null) continue;
      if (ev.type === 'm.room.encryption' && ev.state_key === '') {
        this.setEncrypted(roomId, encryptionOf(ev.content));
      } else if (ev.type === 'm.room.member' && typeof ev.state_key === 'string') {
        const members = this.#members.get(roomId);
        const membership = ev.content.membership;
        if (typeof membership !== 'string') continue;
        if (members) members.set(ev.state_key, membership);
        if ((membership === 'join' || membership === 'invite') && this.known(roomId)) joined.push(ev.state_key);
      } else if (ev.type === 'm.room.history_visibility' && ev.state_key === '' && typeof ev.content.history_visibility === 'string') {
        if (this.#members.has(roomId)) this.#history.set(roomId, ev.content.history_visibility);
      }
    }
  }

  /**
   * Who gets the room key: joined members, and invited ones unless the history visibility is
   * `joined` (what Element does). Loaded with GET /members (and the history visibility
   * state) the first time, then kept current from sync.
   */
  async targets(roomId: string, options?: RequestOptions): Promise<EncryptionTargets> {
    let members = this.#members.get(roomId);
    if (!members) {
      const opts = { signal: options?.signal, timeoutMs: options?.timeoutMs };
      const [list, history] = await Promise.all([
        this.core.request<{ chunk: unknown }>(
          { method: 'GET', path: path`/_matrix/client/v3/rooms/${roomId}/members`, required: ['chunk'] },
          opts,
        ),
        this.core
          .request<Record<string, unknown>>({ method: 'GET', path: path`/_matrix/client/v3/rooms/${roomId}/state/m.room.history_visibility/` }, opts)
          .catch((error: unknown) => {
            if (error instanceof MatrixError && error.httpStatus === 404) return {} as Record<string, unknown>;
            throw error;
          }),
      ]);
      members = new Map();
      if (Array.isArray(list.chunk)) {
        for (const ev of list.chunk as SyncRoomEvent[]) {
          const membership = ev?.content?.membership;
          if (ev?.type === 'm.room.member' && typeof ev.state_key === 'string' && typeof membership === 'string') {
            members.set(ev.state_key, membership);
          }
        }
      }
      // A member event that sync delivered while this was loading is newer: keep it.
      const meanwhile = this.#members.get(roomId);
      if (meanwhile) for (const [user, membership] of meanwhile) members.set(user, membership);
      if (this.#members.size >= MAX_ROOMS) this.#members.delete(this.#members.keys().next().value as string);
      this.#members.set(roomId, members);
      if (!this.#history.has(roomId) && typeof history.history_visibility === 'string') {
        this.#history.set(roomId, history.history_visibility);
      }
    }
    const historyVisibility = this.#history.get(roomId) ?? 'shared';
    const users: string[] = [];
    for (const [user, membership] of members) {
      if (membership === 'join' || (membership === 'invite' && historyVisibility !== 'joined')) users.push(user);
    }
    return { users, historyVisibility };
  }

  #markPlain(roomId: string): null {
    if (this.#encryption.size >= MAX_ROOMS) this.#forgetOne();
    this.#encryption.set(roomId, Date.now());
    return null;
  }

  #forgetOne(): void {
    // Forget a room found not encrypted first; an encrypted one only if there is no other.
    for (const [roomId, entry] of this.#encryption) {
      if (typeof entry === 'number') return void this.#encryption.delete(roomId);
    }
    this.#encryption.delete(this.#encryption.keys().next().value as string);
  }
}

/**
 * An `m.room.encryption` state event turns encryption on for good, whatever its content: one
 * without a string algorithm (malformed, or from a hostile server) still makes the room
 * encrypted, with an algorithm nothing supports, so a send is refused rather than made in clear.
 */
function encryptionOf(content: Record<string, unknown>): RoomEncryptionContent {
  return typeof content.algorithm === 'string' ? (content as RoomEncryptionContent) : { ...content, algorithm: 'unknown' };
}

/** Where a room's encryption state is read (the empty state key ends the path with its slash). */
function encryptionStatePath(roomId: string): string {
  return path`/_matrix/client/v3/rooms/${roomId}/state/m.room.encryption/`;
}
