import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MatrixSessionError } from '../core/errors';

type Awaitable<T> = T | Promise<T>;

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
 * Where the sync loop keeps its position (the last `next_batch`) and the ID of its filter.
 * Methods may return values or promises. One store serves one account: the token of one
 * user means nothing for another.
 */
export interface SyncStore {
  getSyncToken(): Awaitable<string | undefined>;
  setSyncToken(token: string): Awaitable<void>;
  getFilter(): Awaitable<StoredFilter | undefined>;
  /** `undefined` forgets the filter (the server no longer knows its ID). */
  setFilter(filter: StoredFilter | undefined): Awaitable<void>;
}

/** The default store: the position survives `stop()` / `start()` on the same session, not a restart. */
export class MemorySyncStore implements SyncStore {
  #token?: string;
  #filter?: StoredFilter;

  getSyncToken(): string | undefined {
    return this.#token;
  }
  setSyncToken(token: string): void {
    this.#token = token;
  }
  getFilter(): StoredFilter | undefined {
    return this.#filter;
  }
  setFilter(filter: StoredFilter | undefined): void {
    this.#filter = filter;
  }
}

interface FileContents {
  version: 1;
  syncToken?: string;
  filter?: StoredFilter;
}

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
 * the old one; writes are queued, so they land in call order.
 */
export class FileSyncStore implements SyncStore {
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

  async getSyncToken(): Promise<string | undefined> {
    return (await this.#load()).syncToken;
  }
  async setSyncToken(token: string): Promise<void> {
    await this.#update((d) => (d.syncToken = token));
  }
  async getFilter(): Promise<StoredFilter | undefined> {
    return (await this.#load()).filter;
  }
  async setFilter(filter: StoredFilter | undefined): Promise<void> {
    await this.#update((d) => (d.filter = filter));
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
    return parsed as FileContents;
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

/** JSON with object keys sorted at every level: equal filters give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
