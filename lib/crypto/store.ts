/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
import { closeSync, fsyncSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CryptoStoreError, CryptoStoreLockedError } from './errors';
import { decodeFrames, encodeFrame, readIfExists, syncDir, writeAll, writeAtomically } from './store-file';
import { acquireLock } from './store-lock';

/**
 * A durable IndexedDB for Node: fake-indexeddb (an in-memory, spec-compliant IndexedDB)
 * whose committed changes are kept on disk.
 *
 * - Every readwrite or upgrade transaction's changes (put/add/delete/clear, cursor
 *   update/delete, object stores and indexes created or deleted) are collected while it
 *   runs, and appended to `journal` as one frame, fsync'ed, just before its `complete`
 *   event is dispatched: whoever waits for `complete` (the Rust crypto does) knows the
 *   change is on disk. An aborted transaction leaves nothing.
 * - `snapshot` holds the whole store as of a compaction, with a generation number; the
 *   journal starts with the same number. Opening replays snapshot + journal into a fresh
 *   fake-indexeddb (a torn last frame is dropped: its transaction never completed), then
 *   compacts: a new snapshot (temp file, fsync, rename) and an empty journal of the next
 *   generation. A journal whose generation is not the snapshot's is already in it (a
 *   crash between the two renames) and is ignored.
 * - While running, the store compacts again once the journal passes `maxJournalBytes`, at
 *   a moment when none of its write transactions is open (the state is then exactly the
 *   committed one).
 * - `lock` (O_EXCL, holding the pid) keeps a second process, or a second session of this
 *   one, from opening the same folder; the lock of a process that died is taken over.
 */
export interface DurableStoreOptions {
  /** Compact once the journal is this big (default 8 MiB). */
  maxJournalBytes?: number;
}

const FORMAT = 1;
const SNAPSHOT = 'crypto-store.snapshot';
const JOURNAL = 'crypto-store.journal';
const LOCK = 'crypto-store.lock';
const ROWS_PER_FRAME = 500;

type Op =
  | ['put', string, unknown, unknown]
  | ['delete', string, unknown]
  | ['clear', string]
  | ['createStore', string, string | string[] | null, boolean]
  | ['deleteStore', string]
  | ['createIndex', string, string, string | string[], boolean, boolean]
  | ['deleteIndex', string, string];

/** An op as collected: request-based ones count only once their request succeeded. */
interface Pending {
  op: Op;
  ok: boolean;
}

type Frame =
  | { t: 'journal'; format: number; generation: number }
  | { t: 'tx'; db: string; ops: Op[] }
  | { t: 'upgrade'; db: string; version: number; ops: Op[] }
  | { t: 'drop'; db: string }
  | { t: 'snapshot'; format: number; generation: number }
  | { t: 'db'; db: string; version: number; stores: StoreSchema[] }
  | { t: 'rows'; db: string; store: string; rows: [unknown, unknown][] }
  | { t: 'keygen'; db: string; store: string; next: number }
  | { t: 'end' };

interface StoreSchema {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }[];
}

/** A range passed to delete(): kept as its bounds, rebuilt on replay. */
interface RangeBox {
  range: [unknown, unknown, boolean, boolean];
}

// fake-indexeddb's classes, loaded with the store (never at the SDK's import).
const FDB = {
  Factory: require('fake-indexeddb/lib/FDBFactory') as any,
  Database: require('fake-indexeddb/lib/FDBDatabase') as any,
  ObjectStore: require('fake-indexeddb/lib/FDBObjectStore') as any,
  Cursor: require('fake-indexeddb/lib/FDBCursor') as any,
  Transaction: require('fake-indexeddb/lib/FDBTransaction') as any,
  KeyRange: require('fake-indexeddb/lib/FDBKeyRange') as any,
};

/** The journal each of our connections writes to. Connections of other fake-indexeddb users are not in it. */
const journalOf = new WeakMap<object, DurableStore>();
/** Changes collected per open transaction. */
const pendingOf = new WeakMap<object, Pending[]>();

/**
 * The globals the engine's IndexedDB bindings look up (`instanceof IDBDatabase`,
 * `IDBKeyRange.bound`, …): fake-indexeddb's classes, installed where absent.
 */
export const IDB_GLOBALS: Record<string, unknown> = {
  IDBFactory: FDB.Factory,
  IDBDatabase: FDB.Database,
  IDBObjectStore: FDB.ObjectStore,
  IDBCursor: FDB.Cursor,
  IDBTransaction: FDB.Transaction,
  IDBKeyRange: FDB.KeyRange,
  IDBIndex: require('fake-indexeddb/lib/FDBIndex'),
  IDBCursorWithValue: require('fake-indexeddb/lib/FDBCursorWithValue'),
  IDBRequest: require('fake-indexeddb/lib/FDBRequest'),
  IDBOpenDBRequest: require('fake-indexeddb/lib/FDBOpenDBRequest'),
  IDBVersionChangeEvent: require('fake-indexeddb/lib/FDBVersionChangeEvent'),
};

function storeOfTx(tx: any): DurableStore | undefined {
  return tx ? journalOf.get(tx.db) : undefined;
}

function collect(tx: any, op: Op, ok = true): Pending | undefined {
  if (!storeOfTx(tx)) return undefined;
  let list = pendingOf.get(tx);
  if (!list) pendingOf.set(tx, (list = []));
  const entry = { op, ok };
  list.push(entry);
  return entry;
}

/** Marks `entry` as done when `request` succeeds, taking the effective key from its result. */
function onSuccess(request: any, entry: Pending | undefined, withKey?: (key: unknown) => void): void {
  if (!entry) return;
  request.addEventListener('success', () => {
    entry.ok = true;
    withKey?.(request.result);
  });
}

function boxRange(key: unknown): unknown {
  if (key instanceof FDB.KeyRange) {
    const r = key as { lower: unknown; upper: unknown; lowerOpen: boolean; upperOpen: boolean };
    return { range: [r.lower, r.upper, r.lowerOpen, r.upperOpen] } satisfies RangeBox;
  }
  return key;
}

function unboxRange(key: unknown): unknown {
  const box = key as RangeBox | undefined;
  if (box && typeof box === 'object' && Array.isArray(box.range) && box.range.length === 4 && !Array.isArray(key)) {
    const [lower, upper, lowerOpen, upperOpen] = box.range;
    if (lower === undefined) return FDB.KeyRange.upperBound(upper, upperOpen);
    if (upper === undefined) return FDB.KeyRange.lowerBound(lower, lowerOpen);
    return FDB.KeyRange.bound(lower, upper, lowerOpen, upperOpen);
  }
  return key;
}

let patched = false;

/** Wraps fake-indexeddb's mutating methods once; they collect changes only for our connections. */
function patchFakeIndexedDb(): void {
  if (patched) return;
  patched = true;
  const S = FDB.ObjectStore.prototype;
  const wrap = (proto: any, name: string, around: (original: any) => any) => {
    const original = proto[name];
    proto[name] = around(original);
  };
  for (const method of ['put', 'add'] as const) {
    wrap(S, method, (original) =>
      function (this: any, value: unknown, key?: unknown) {
        const request = original.apply(this, arguments);
        const op: Op = ['put', this.name, undefined, structuredCloneForLog(value)];
        const entry = collect(this.transaction, op, false);
        // The key actually used (given, from the key path or generated) comes with the result.
        onSuccess(request, entry, (k) => (op[2] = k));
        void key;
        return request;
      },
    );
  }
  wrap(S, 'delete', (original) =>
    function (this: any, key: unknown) {
      const request = original.apply(this, arguments);
      onSuccess(request, collect(this.transaction, ['delete', this.name, boxRange(key)], false));
      return request;
    },
  );
  wrap(S, 'clear', (original) =>
    function (this: any) {
      const request = original.apply(this, arguments);
      onSuccess(request, collect(this.transaction, ['clear', this.name], false));
      return request;
    },
  );
  wrap(S, 'createIndex', (original) =>
    function (this: any, name: string, keyPath: string | string[], params: { unique?: boolean; multiEntry?: boolean } = {}) {
      const index = original.apply(this, arguments);
      collect(this.transaction, ['createIndex', this.name, name, keyPath, !!params.unique, !!params.multiEntry]);
      return index;
    },
  );
  wrap(S, 'deleteIndex', (original) =>
    function (this: any, name: string) {
      const result = original.apply(this, arguments);
      collect(this.transaction, ['deleteIndex', this.name, name]);
      return result;
    },
  );
  // Renaming stores or indexes is not journaled: refuse it on our connections rather than lose it.
  const nameSetter = Object.getOwnPropertyDescriptor(S, 'name');
  if (nameSetter?.set) {
    Object.defineProperty(S, 'name', {
      ...nameSetter,
      set(this: any, value: string) {
        if (storeOfTx(this.transaction)) throw new CryptoStoreError('Renaming an object store is not supported by the durable store');
        nameSetter.set!.call(this, value);
      },
    });
  }

  const C = FDB.Cursor.prototype;
  const storeOfCursor = (cursor: any) => (cursor.source instanceof FDB.ObjectStore ? cursor.source : cursor.source.objectStore);
  wrap(C, 'update', (original) =>
    function (this: any, value: unknown) {
      const request = original.apply(this, arguments);
      const store = storeOfCursor(this);
      const op: Op = ['put', store.name, this.primaryKey, structuredCloneForLog(value)];
      onSuccess(request, collect(store.transaction, op, false));
      return request;
    },
  );
  wrap(C, 'delete', (original) =>
    function (this: any) {
      const request = original.apply(this, arguments);
      const store = storeOfCursor(this);
      onSuccess(request, collect(store.transaction, ['delete', store.name, this.primaryKey], false));
      return request;
    },
  );

  const D = FDB.Database.prototype;
  wrap(D, 'createObjectStore', (original) =>
    function (this: any, name: string, params: { keyPath?: string | string[] | null; autoIncrement?: boolean } = {}) {
      const store = original.apply(this, arguments);
      collect(store.transaction, ['createStore', name, params.keyPath ?? null, !!params.autoIncrement]);
      return store;
    },
  );
  wrap(D, 'deleteObjectStore', (original) =>
    function (this: any, name: string) {
      const result = original.apply(this, arguments);
      collect(upgradeTransaction(this), ['deleteStore', name]);
      return result;
    },
  );
  wrap(D, 'transaction', (original) =>
    function (this: any) {
      const store = journalOf.get(this);
      if (store?.failure) throw store.failure;
      const tx = original.apply(this, arguments);
      if (store && tx.mode !== 'readonly') store.opened();
      return tx;
    },
  );

  // The commit point: the transaction's changes reach the disk before anyone hears `complete`.
  const T = FDB.Transaction.prototype;
  wrap(T, 'dispatchEvent', (original) =>
    function (this: any, event: { type: string }) {
      const store = storeOfTx(this);
      if (store && this.mode !== 'readonly' && (event.type === 'complete' || event.type === 'abort')) {
        const pending = pendingOf.get(this) ?? [];
        pendingOf.delete(this);
        if (event.type === 'complete') store.committed(this, pending);
        // (An upgrade transaction was counted as open by the factory's upgradeneeded listener.)
        const result = original.apply(this, arguments);
        store.closed();
        return result;
      }
      return original.apply(this, arguments);
    },
  );
}

/** The running upgrade transaction of a connection (fake-indexeddb keeps it in the database's list). */
function upgradeTransaction(db: any): any {
  const list = db._rawDatabase.transactions as any[];
  for (let i = list.length - 1; i >= 0; i--) if (list[i].mode === 'versionchange') return list[i];
  return undefined;
}

/** The value as it is at the call: the caller may change its object afterwards. */
function structuredCloneForLog(value: unknown): unknown {
  return structuredClone(value);
}

/** Answers when an IDBRequest settles. */
export function settle<T = unknown>(request: any): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result as T);
    request.onerror = () => reject(request.error);
  });
}

/** Answers when an IDBTransaction completes (rejects when it aborts). */
export function done(tx: any): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new CryptoStoreError('A transaction aborted'));
  });
}

/**
 * One store folder opened: its `factory` is the IndexedDB to hand to the engine.
 * Use `openDurableStore`, then `close()` when done.
 */
export class DurableStore {
  readonly factory: any;
  /** Set when a write to disk failed: the store then refuses new transactions. */
  failure?: CryptoStoreError;
  #dir: string;
  #maxJournalBytes: number;
  #generation = 0;
  #journalFd?: number;
  #journalBytes = 0;
  #openWrites = 0;
  #releaseLock?: () => void;

  private constructor(dir: string, options: DurableStoreOptions) {
    this.#dir = dir;
    this.#maxJournalBytes = options.maxJournalBytes ?? 8 * 1024 * 1024;
    // A factory of our own: its open() registers the connections whose writes we journal.
    const store = this;
    const Factory = FDB.Factory;
    class JournaledFactory extends Factory {
      open(name: string, version?: number): any {
        const request = super.open(name, version);
        const adopt = () => {
          if (request.result) journalOf.set(request.result, store);
        };
        // Registered before the caller can add listeners: the upgrade transaction is seen from its
        // start, and counted as an open write (it was not made by transaction()).
        request.addEventListener('upgradeneeded', () => {
          adopt();
          store.opened();
        });
        request.addEventListener('success', adopt);
        return request;
      }
      deleteDatabase(name: string): any {
        const request = super.deleteDatabase(name);
        request.addEventListener('success', () => store.append({ t: 'drop', db: name }));
        return request;
      }
    }
    this.factory = new JournaledFactory();
  }

  /** Opens (creating it if needed) the store in `dir`, replays it and compacts it. */
  static async open(dir: string, options: DurableStoreOptions = {}): Promise<DurableStore> {
    patchFakeIndexedDb();
    const store = new DurableStore(dir, options);
    try {
      // A folder that cannot be made or locked (a file in the way, no permission) is a
      // CryptoStoreError too; the lock held by another process stays a CryptoStoreLockedError.
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      store.#releaseLock = acquireLock(join(dir, LOCK));
    } catch (error) {
      if (error instanceof CryptoStoreLockedError) throw error;
      throw new CryptoStoreError(`The crypto store folder ${dir} cannot be used`, error);
    }
    try {
      await store.#load();
      store.compact();
    } catch (error) {
      store.close();
      throw error instanceof CryptoStoreError ? error : new CryptoStoreError(`The crypto store in ${dir} cannot be read`, error);
    }
    return store;
  }

  /** Stops journaling, closes the files and releases the lock (idempotent). */
  close(): void {
    if (this.#journalFd !== undefined) closeSync(this.#journalFd);
    this.#journalFd = undefined;
    for (const db of (this.factory._databases as Map<string, any>).values()) {
      for (const connection of db.connections) journalOf.delete(connection);
    }
    this.#releaseLock?.();
    this.#releaseLock = undefined;
  }

  /** Writes a new snapshot of the current state and starts an empty journal (no write transaction may be open). */
  compact(): void {
    const generation = this.#generation + 1;
    writeAtomically(join(this.#dir, SNAPSHOT), this.#snapshotFrames(generation));
    this.#generation = generation;
    if (this.#journalFd !== undefined) closeSync(this.#journalFd);
    writeAtomically(join(this.#dir, JOURNAL), [encodeFrame({ t: 'journal', format: FORMAT, generation } satisfies Frame)]);
    this.#journalFd = openSync(join(this.#dir, JOURNAL), 'a');
    this.#journalBytes = statSync(join(this.#dir, JOURNAL)).size;
  }

  /** A write transaction was created on one of our connections. */
  opened(): void {
    this.#openWrites++;
  }

  /** One of them finished (complete or abort); compacts if due and nothing is open. */
  closed(): void {
    this.#openWrites = Math.max(0, this.#openWrites - 1);
    if (this.#openWrites === 0 && this.#journalBytes > this.#maxJournalBytes && !this.failure && this.#journalFd !== undefined) {
      try {
        this.compact();
      } catch (error) {
        this.failure = new CryptoStoreError('Compacting the crypto store failed', error);
      }
    }
  }

  /** A transaction committed: its frame goes to disk now, before `complete` is dispatched. */
  committed(tx: any, pending: Pending[]): void {
    const ops = pending.filter((p) => p.ok).map((p) => p.op);
    if (tx.mode === 'versionchange') {
      this.append({ t: 'upgrade', db: tx.db.name, version: tx.db.version, ops });
    } else if (ops.length > 0) {
      this.append({ t: 'tx', db: tx.db.name, ops });
    }
  }

  append(frame: Frame): void {
    if (this.failure || this.#journalFd === undefined) return;
    try {
      const bytes = encodeFrame(frame);
      writeAll(this.#journalFd, bytes);
      fsyncSync(this.#journalFd);
      this.#journalBytes += bytes.length;
    } catch (error) {
      this.failure = new CryptoStoreError('Writing the crypto store journal failed; the store refuses further writes', error);
    }
  }

  /** Replays snapshot and journal into the (fresh, not yet journaled) factory. */
  async #load(): Promise<void> {
    const snapshot = decodeFrames(readIfExists(join(this.#dir, SNAPSHOT))).values as Frame[];
    const connections = new Map<string, any>();
    const connect = async (name: string): Promise<any> => {
      let db = connections.get(name);
      if (!db) connections.set(name, (db = await settle(this.factory.open(name))));
      return db;
    };
    const disconnect = (name: string) => {
      connections.get(name)?.close();
      connections.delete(name);
    };
    const upgrade = async (name: string, version: number, apply: (db: any, tx: any) => void): Promise<void> => {
      disconnect(name);
      const request = this.factory.open(name, version);
      request.onupgradeneeded = () => apply(request.result, request.transaction);
      connections.set(name, await settle(request));
    };

    if (snapshot.length > 0) {
      const head = snapshot[0];
      if (head.t !== 'snapshot' || head.format !== FORMAT || snapshot[snapshot.length - 1].t !== 'end') {
        throw new CryptoStoreError(`The crypto store snapshot in ${this.#dir} is incomplete or of an unknown format`);
      }
      this.#generation = head.generation;
      for (const frame of snapshot) {
        if (frame.t === 'db') {
          await upgrade(frame.db, frame.version, (db) => {
            for (const s of frame.stores) {
              const os = db.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
              for (const i of s.indexes) os.createIndex(i.name, i.keyPath, { unique: i.unique, multiEntry: i.multiEntry });
            }
          });
        } else if (frame.t === 'rows') {
          const db = await connect(frame.db);
          const tx = db.transaction([frame.store], 'readwrite');
          const os = tx.objectStore(frame.store);
          for (const [key, value] of frame.rows) {
            if (os.keyPath === null) os.put(value, key);
            else os.put(value);
          }
          await done(tx);
        } else if (frame.t === 'keygen') {
          const generator = this.#raw(frame.db)?.rawObjectStores.get(frame.store)?.keyGenerator;
          if (generator) generator.num = frame.next;
        }
      }
    }

    const journal = decodeFrames(readIfExists(join(this.#dir, JOURNAL))).values as Frame[];
    const head = journal[0];
    if (head?.t === 'journal' && head.generation === this.#generation && head.format === FORMAT) {
      for (const frame of journal.slice(1)) {
        if (frame.t === 'drop') {
          disconnect(frame.db);
          await settle(this.factory.deleteDatabase(frame.db));
        } else if (frame.t === 'upgrade') {
          await upgrade(frame.db, frame.version, (db, tx) => applyOps(db, tx, frame.ops));
        } else if (frame.t === 'tx') {
          const db = await connect(frame.db);
          const names = [...new Set(frame.ops.map((op) => op[1]))];
          const tx = db.transaction(names, 'readwrite');
          applyOps(db, tx, frame.ops);
          await done(tx);
        }
      }
    }
    for (const name of [...connections.keys()]) disconnect(name);
    // The replay went through the journaling factory's methods: drop what they collected.
    this.#openWrites = 0;
  }

  #raw(name: string): any {
    return (this.factory._databases as Map<string, any>).get(name);
  }

  /** The current state, read synchronously from fake-indexeddb's records (consistent: nothing runs meanwhile). */
  *#snapshotFrames(generation: number): Generator<Buffer> {
    yield encodeFrame({ t: 'snapshot', format: FORMAT, generation } satisfies Frame);
    for (const [name, db] of this.factory._databases as Map<string, any>) {
      if (db.deletePending) continue;
      const stores: StoreSchema[] = [];
      for (const [storeName, os] of db.rawObjectStores as Map<string, any>) {
        if (os.deleted) continue;
        stores.push({
          name: storeName,
          keyPath: os.keyPath ?? null,
          autoIncrement: !!os.autoIncrement,
          indexes: [...(os.rawIndexes as Map<string, any>).values()]
            .filter((i) => !i.deleted)
            .map((i) => ({ name: i.name, keyPath: i.keyPath, unique: !!i.unique, multiEntry: !!i.multiEntry })),
        });
      }
      yield encodeFrame({ t: 'db', db: name, version: db.version, stores } satisfies Frame);
      for (const s of stores) {
        const os = db.rawObjectStores.get(s.name);
        let rows: [unknown, unknown][] = [];
        for (const record of os.records.values()) {
          rows.push([record.key, record.value]);
          if (rows.length === ROWS_PER_FRAME) {
            yield encodeFrame({ t: 'rows', db: name, store: s.name, rows } satisfies Frame);
            rows = [];
          }
        }
        if (rows.length > 0) yield encodeFrame({ t: 'rows', db: name, store: s.name, rows } satisfies Frame);
        if (os.keyGenerator) yield encodeFrame({ t: 'keygen', db: name, store: s.name, next: os.keyGenerator.num } satisfies Frame);
      }
    }
    yield encodeFrame({ t: 'end' } satisfies Frame);
  }
}

/** Applies journaled ops inside a transaction of the replay. */
function applyOps(db: any, tx: any, ops: Op[]): void {
  for (const op of ops) {
    switch (op[0]) {
      case 'createStore':
        db.createObjectStore(op[1], { keyPath: op[2], autoIncrement: op[3] });
        break;
      case 'deleteStore':
        db.deleteObjectStore(op[1]);
        break;
      case 'createIndex':
        tx.objectStore(op[1]).createIndex(op[2], op[3], { unique: op[4], multiEntry: op[5] });
        break;
      case 'deleteIndex':
        tx.objectStore(op[1]).deleteIndex(op[2]);
        break;
      case 'put': {
        const os = tx.objectStore(op[1]);
        if (os.keyPath === null) os.put(op[3], op[2]);
        else os.put(injectKey(op[3], os.keyPath, op[2], os.autoIncrement));
        break;
      }
      case 'delete':
        tx.objectStore(op[1]).delete(unboxRange(op[2]));
        break;
      case 'clear':
        tx.objectStore(op[1]).clear();
        break;
    }
  }
}

/**
 * A value logged before its store generated its key: the key is put where the key path
 * points, as the store did, so the replay gives it the same key whatever the generator says.
 */
function injectKey(value: unknown, keyPath: string | string[], key: unknown, autoIncrement: boolean): unknown {
  if (!autoIncrement || typeof keyPath !== 'string' || typeof value !== 'object' || value === null) return value;
  let object = value as Record<string, unknown>;
  const parts = keyPath.split('.');
  for (let i = 0; i < parts.length - 1; i++) {
    if (typeof object[parts[i]] !== 'object' || object[parts[i]] === null) object[parts[i]] = {};
    object = object[parts[i]] as Record<string, unknown>;
  }
  if (object[parts[parts.length - 1]] === undefined) object[parts[parts.length - 1]] = key;
  return value;
}

export const STORE_FILES = { SNAPSHOT, JOURNAL, LOCK };
export { syncDir };
