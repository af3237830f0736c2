import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MatrixSessionError } from '../core/errors';

/** A value, or a promise of it: store methods may be synchronous or not. */
export type Awaitable<T> = T | Promise<T>;

/** A filter the loop created on the server, kept so that later runs reuse its ID. */
export interface StoredFilter {
  /** The `filter_id` the server returned. */
  id: string;
  /** The filter object as canonical JSON (sorted keys): a changed filter gets a new ID. */
  definition: string;
  /** Filter IDs belong to a user. */
  userId: string;
}

/**
 * Where the sync loop keeps its position (the last `next_batch`), the ID of its filter and,
 * optionally, the last event it delivered in each room. Methods may return values or
 * promises. One store serves one account: the token of one user means nothing for another.
 *
 * `getLastEventId` and `setSyncPosition` are optional and go together. With them, the loop
 * can fill a gap (a `limited` timeline) after a restart: it pages back to the last event it
 * delivered. A store with only the first four methods keeps working; the loop then remembers
 * the last events in memory, so gaps are filled while the process runs (across `stop()` and
 * `start()` too), and after a restart each limited timeline is reported as a `room.gap` with
 * reason `unknown_position` instead of being filled.
 */
export interface SyncStore {
  /** The position saved last (a `next_batch`), or undefined: the loop then starts with an initial sync. */
  getSyncToken(): Awaitable<string | undefined>;
  /** Saves the position; not called when the store has `setSyncPosition`. */
  setSyncToken(token: string): Awaitable<void>;
  /** The filter the loop created on the server, if any. */
  getFilter(): Awaitable<StoredFilter | undefined>;
  /** `undefined` forgets the filter (the server no longer knows its ID). */
  setFilter(filter: StoredFilter | undefined): Awaitable<void>;
  /** The ID of the last timeline event delivered in the room, as saved by `setSyncPosition`. */
  getLastEventId?(roomId: string): Awaitable<string | undefined>;
  /**
   * Saves the position after a batch: the token and, in the same atomic write, the last
   * event delivered in each room of the batch (`null`: forget the room, which the user
   * left). Rooms not in `lastEvents` keep what they had.
   */
  setSyncPosition?(token: string, lastEvents: ReadonlyMap<string, string | null>): Awaitable<void>;
}

/** The default store: the position survives `stop()` / `start()` on the same session, not a restart. */
export class MemorySyncStore implements SyncStore {
  #token?: string;
  #filter?: StoredFilter;
  #lastEvents = new Map<string, string>();

  /** The position saved last. */
  getSyncToken(): string | undefined {
    return this.#token;
  }
  /** Saves the position. */
  setSyncToken(token: string): void {
    this.#token = token;
  }
  /** The last timeline event the loop delivered in the room, if any. */
  getLastEventId(roomId: string): string | undefined {
    return this.#lastEvents.get(roomId);
  }
  /** The token and the rooms' last events of a batch, together. */
  setSyncPosition(token: string, lastEvents: ReadonlyMap<string, string | null>): void {
    this.#token = token;
    mergeLastEvents(this.#lastEvents, lastEvents);
  }
  /** The filter the loop created, if any. */
  getFilter(): StoredFilter | undefined {
    return this.#filter;
  }
  /** Keeps (or with undefined forgets) the filter the loop created. */
  setFilter(filter: StoredFilter | undefined): void {
    this.#filter = filter;
  }
}

interface FileContents {
  version: 1;
  syncToken?: string;
  filter?: StoredFilter;
  /** Room ID → the last event delivered there. Absent in files written before it was kept. */
  rooms?: Record<string, string>;
}

/** Options of `new FileSyncStore(path, options)`. */
export interface FileSyncStoreOptions {
  /**
   * Flush each write to disk before it replaces the old file (default true), so a power
   * cut leaves the old or the new position, never an empty file. Turn off on tmpfs.
   */
  fsync?: boolean;
}

/**
 * A JSON file (mode 0600), read once and rewritten on each change. Writes are atomic: the
 * new contents go to a temporary file in the same directory, which is then renamed over
 * the old one; writes are queued, so they land in call order. The token and the rooms'
 * last events are written together, in one file, so they always match.
 */
export class FileSyncStore implements SyncStore {
  /** The file the store reads and writes. */
  readonly path: string;
  #fsync: boolean;
  #data?: FileContents;
  #loading?: Promise<FileContents>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: FileSyncStoreOptions = {}) {
    if (typeof path !== 'string' || path === '') throw new MatrixSessionError('FileSyncStore needs a file path');
    this.path = path;
    this.#fsync = options.fsync ?? true;
  }

  /** The position written last (the file is read on the first call). */
  async getSyncToken(): Promise<string | undefined> {
    return (await this.#load()).syncToken;
  }
  /** Writes the position. */
  async setSyncToken(token: string): Promise<void> {
    await this.#update((d) => (d.syncToken = token));
  }
  /** The filter the loop created, if any. */
  async getFilter(): Promise<StoredFilter | undefined> {
    return (await this.#load()).filter;
  }
  /** Writes (or with undefined removes) the filter the loop created. */
  async setFilter(filter: StoredFilter | undefined): Promise<void> {
    await this.#update((d) => (d.filter = filter));
  }
  /** The last timeline event the loop delivered in the room, as last written. */
  async getLastEventId(roomId: string): Promise<string | undefined> {
    const rooms = (await this.#load()).rooms;
    return rooms && Object.hasOwn(rooms, roomId) ? rooms[roomId] : undefined;
  }
  /** Writes the token and the rooms' last events of a batch in one atomic replacement of the file. */
  async setSyncPosition(token: string, lastEvents: ReadonlyMap<string, string | null>): Promise<void> {
    await this.#update((d) => {
      d.syncToken = token;
      const rooms = (d.rooms ??= {});
      for (const [roomId, eventId] of lastEvents) {
        if (eventId === null) delete rooms[roomId];
        else rooms[roomId] = eventId;
      }
    });
  }

  #load(): Promise<FileContents> {
    if (this.#data) return Promise.resolve(this.#data);
    this.#loading ??= this.#read().then(
      (data) => (this.#data = data),
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  async #read(): Promise<FileContents> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1 };
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Never start over silently: that would replay or skip a whole history.
      throw new MatrixSessionError(`The sync store ${this.path} is not valid JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || (parsed as FileContents).version !== 1) {
      throw new MatrixSessionError(`The sync store ${this.path} is not a version 1 sync store`);
    }
    const data = parsed as FileContents;
    data.rooms = readRooms(data.rooms);
    return data;
  }

  async #update(change: (data: FileContents) => void): Promise<void> {
    const data = await this.#load();
    change(data);
    const json = JSON.stringify(data);
    const write = this.#queue.then(() => this.#write(json));
    // The queue goes on after a failed write; the caller still sees the failure.
    this.#queue = write.catch(() => undefined);
    await write;
  }

  async #write(json: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const file = await open(temp, 'w', 0o600);
      try {
        await file.writeFile(json);
        if (this.#fsync) await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }
}

/** The last-event map of a store file, keeping only well-formed entries (a lost one only means a reported gap). */
function readRooms(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const rooms: Record<string, string> = {};
  for (const [roomId, eventId] of Object.entries(value)) {
    if (typeof eventId === 'string') Object.defineProperty(rooms, roomId, { value: eventId, enumerable: true, writable: true, configurable: true });
  }
  return rooms;
}

/** Merges a batch's last events into a map of them (`null` removes the room). */
export function mergeLastEvents(into: Map<string, string>, lastEvents: ReadonlyMap<string, string | null>): void {
  for (const [roomId, eventId] of lastEvents) {
    if (eventId === null) into.delete(roomId);
    else into.set(roomId, eventId);
  }
}

/** JSON with object keys sorted at every level: equal filters give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
