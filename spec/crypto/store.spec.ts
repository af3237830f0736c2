// The durable IndexedDB (fake-indexeddb + journal + snapshot): what was committed is what a
// reopened store holds, whatever the mix of operations, and a torn write loses only the
// transaction that was being written.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CryptoStoreError, CryptoStoreLockedError } from '../../lib';
import { done, DurableStore, settle, STORE_FILES } from '../../lib/crypto/store';
import { decodeFrames, encodeFrame } from '../../lib/crypto/store-file';

/* eslint-disable @typescript-eslint/no-explicit-any */
type DB = any;

let dir: string;
const open: DurableStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ms-store-'));
});
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openStore(options: { maxJournalBytes?: number } = {}): Promise<DurableStore> {
  const store = await DurableStore.open(dir, options);
  open.push(store);
  return store;
}

function close(store: DurableStore): void {
  store.close();
  open.splice(open.indexOf(store), 1);
}

const req = settle;
const txDone = done;

/** Opens `name` at `version`, running `upgrade` in the version change. */
async function openDb(store: DurableStore, name: string, version: number, upgrade?: (db: DB, tx: any) => void): Promise<DB> {
  const request = store.factory.open(name, version);
  request.onupgradeneeded = () => upgrade?.(request.result, request.transaction);
  return req(request);
}

/** Everything a database holds: stores with their schema, records and key generator, read through the IDB API. */
async function dump(store: DurableStore, name: string): Promise<unknown> {
  const db = await req<DB>(store.factory.open(name));
  const out: Record<string, unknown> = { version: db.version };
  const names = [...db.objectStoreNames] as string[];
  if (names.length > 0) {
    const tx = db.transaction(names, 'readonly');
    for (const n of names) {
      const os = tx.objectStore(n);
      const indexes: Record<string, unknown> = {};
      for (const i of [...os.indexNames] as string[]) {
        const index = os.index(i);
        indexes[i] = { keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry, keys: await req(index.getAllKeys()) };
      }
      out[n] = { keyPath: os.keyPath, autoIncrement: os.autoIncrement, keys: await req(os.getAllKeys()), values: await req(os.getAll()), indexes };
    }
  }
  db.close();
  return out;
}

/** A schema with an out-of-line store, an inline one with an index, and an auto-increment store. */
function schema(db: DB): void {
  db.createObjectStore('kv');
  const people = db.createObjectStore('people', { keyPath: 'id' });
  people.createIndex('by_name', 'name', { unique: false });
  people.createIndex('by_tag', 'tags', { multiEntry: true });
  db.createObjectStore('log', { keyPath: 'seq', autoIncrement: true });
  db.createObjectStore('counter', { autoIncrement: true });
}

async function write(db: DB, stores: string[], work: (tx: any) => void): Promise<void> {
  const tx = db.transaction(stores, 'readwrite');
  work(tx);
  await txDone(tx);
}

describe('DurableStore', () => {
  it('replays every kind of committed change into an equal state', async () => {
    const first = await openStore();
    const db = await openDb(first, 'db', 1, schema);
    await write(db, ['kv', 'people', 'log', 'counter'], (tx) => {
      tx.objectStore('kv').put({ a: new Uint8Array([1, 2, 3]), when: new Date(5), m: new Map([[1, 'x']]) }, 'k1');
      tx.objectStore('kv').put('two', ['compound', 2]);
      tx.objectStore('kv').add(3, 'k3');
      tx.objectStore('people').put({ id: 'p1', name: 'Ann', tags: ['a', 'b'] });
      tx.objectStore('people').put({ id: 'p2', name: 'Bob', tags: ['b'] });
      tx.objectStore('people').put({ id: 'p3', name: 'Cy', tags: [] });
      tx.objectStore('log').add({ text: 'one' });
      tx.objectStore('log').add({ text: 'two' });
      tx.objectStore('counter').add('c1');
      tx.objectStore('counter').add('c2');
      tx.objectStore('counter').put('c10', 10);
    });
    // Cursor update and delete, a key range delete, a clear.
    await write(db, ['people', 'kv', 'counter'], (tx) => {
      const people = tx.objectStore('people');
      people.openCursor().onsuccess = (e: any) => {
        const cursor = e.target.result;
        if (!cursor) return;
        if (cursor.value.id === 'p1') cursor.update({ ...cursor.value, name: 'Anna' });
        if (cursor.value.id === 'p3') cursor.delete();
        cursor.continue();
      };
      tx.objectStore('kv').delete(IDBKeyRangeBound('k1', 'k3'));
      tx.objectStore('counter').delete(10);
    });
    // An index cursor updates through the index.
    await write(db, ['people'], (tx) => {
      tx.objectStore('people').index('by_name').openCursor('Bob').onsuccess = (e: any) => {
        const cursor = e.target.result;
        if (cursor) cursor.update({ ...cursor.value, tags: ['z'] });
      };
    });
    const expected = await dump(first, 'db');
    db.close();
    close(first);

    const second = await openStore();
    expect(await dump(second, 'db')).toEqual(expected);
    // The key generators continue where they were (10 was used, then deleted: 11 is next).
    const db2 = await openDb(second, 'db', 1);
    const tx = db2.transaction(['counter', 'log'], 'readwrite');
    const next = req(tx.objectStore('counter').add('c11'));
    const seq = req(tx.objectStore('log').add({ text: 'three' }));
    await txDone(tx);
    expect(await next).toBe(11);
    expect(await seq).toBe(3);
    db2.close();
  });

  it('keeps nothing of an aborted transaction or a failed request', async () => {
    const store = await openStore();
    const db = await openDb(store, 'db', 1, schema);
    const tx = db.transaction(['kv'], 'readwrite');
    tx.objectStore('kv').put('gone', 'k');
    const aborted = txDone(tx).catch(() => 'aborted');
    tx.abort();
    expect(await aborted).toBe('aborted');
    // A failed add (the key exists) whose error is prevented leaves the rest of its transaction.
    await write(db, ['kv'], (t) => t.objectStore('kv').put(1, 'x'));
    await write(db, ['kv'], (t) => {
      const dup = t.objectStore('kv').add(2, 'x');
      dup.onerror = (e: any) => e.preventDefault();
      t.objectStore('kv').put(3, 'y');
    });
    const expected = await dump(store, 'db');
    expect((expected as any).kv.keys).toEqual(['x', 'y']);
    db.close();
    close(store);
    expect(await dump(await openStore(), 'db')).toEqual(expected);
  });

  it('replays schema changes: upgrades that add and drop stores and indexes, deleteDatabase', async () => {
    const first = await openStore();
    (await openDb(first, 'db', 1, schema)).close();
    const db2 = await openDb(first, 'db', 2, (db, tx) => {
      db.deleteObjectStore('counter');
      tx.objectStore('people').deleteIndex('by_tag');
      tx.objectStore('people').createIndex('by_id_name', ['id', 'name'], { unique: true });
      db.createObjectStore('extra').put('v', 'k');
    });
    db2.close();
    (await openDb(first, 'other', 3, (db) => db.createObjectStore('s'))).close();
    await req(first.factory.deleteDatabase('other'));
    const expected = await dump(first, 'db');
    close(first);

    const second = await openStore();
    expect(await dump(second, 'db')).toEqual(expected);
    expect((expected as any).version).toBe(2);
    expect(await second.factory.databases()).toEqual([{ name: 'db', version: 2 }]);
  });

  it('drops a torn last frame: that transaction never completed', async () => {
    const first = await openStore();
    const db = await openDb(first, 'db', 1, schema);
    await write(db, ['kv'], (tx) => tx.objectStore('kv').put('kept', 'a'));
    await write(db, ['kv'], (tx) => tx.objectStore('kv').put('torn', 'b'));
    db.close();
    close(first);
    const journal = join(dir, STORE_FILES.JOURNAL);
    truncateSync(journal, statSync(journal).size - 3);

    const second = await openStore();
    expect(((await dump(second, 'db')) as any).kv).toMatchObject({ keys: ['a'], values: ['kept'] });
  });

  it('drops a frame whose checksum does not match, and what follows it', async () => {
    const first = await openStore();
    const db = await openDb(first, 'db', 1, schema);
    await write(db, ['kv'], (tx) => tx.objectStore('kv').put('kept', 'a'));
    const before = statSync(join(dir, STORE_FILES.JOURNAL)).size;
    await write(db, ['kv'], (tx) => tx.objectStore('kv').put('flipped', 'b'));
    await write(db, ['kv'], (tx) => tx.objectStore('kv').put('after', 'c'));
    db.close();
    close(first);
    const journal = join(dir, STORE_FILES.JOURNAL);
    const bytes = readFileSync(journal);
    bytes[before + 20] ^= 0xff;
    writeFileSync(journal, bytes);
    expect(((await dump(await openStore(), 'db')) as any).kv.keys).toEqual(['a']);
  });

  it('compacts on open: the snapshot holds the state, the journal starts empty, a stale journal is ignored', async () => {
    const first = await openStore();
    const db = await openDb(first, 'db', 1, schema);
    await write(db, ['people'], (tx) => tx.objectStore('people').put({ id: 'p', name: 'P', tags: ['t'] }));
    db.close();
    close(first);
    const oldJournal = readFileSync(join(dir, STORE_FILES.JOURNAL));

    const second = await openStore();
    const expected = await dump(second, 'db');
    const journal = decodeFrames(readFileSync(join(dir, STORE_FILES.JOURNAL))).values;
    expect(journal).toEqual([expect.objectContaining({ t: 'journal' })]);
    close(second);
    // A crash between the snapshot's rename and the new journal's: the old journal is back,
    // and must not be applied twice (its generation is not the snapshot's).
    writeFileSync(join(dir, STORE_FILES.JOURNAL), oldJournal);
    expect(await dump(await openStore(), 'db')).toEqual(expected);
  });

  it('compacts while running once the journal passes its bound', async () => {
    const store = await openStore({ maxJournalBytes: 2_000 });
    const db = await openDb(store, 'db', 1, schema);
    for (let i = 0; i < 40; i++) await write(db, ['kv'], (tx) => tx.objectStore('kv').put('x'.repeat(100), `k${i}`));
    expect(statSync(join(dir, STORE_FILES.JOURNAL)).size).toBeLessThan(2_500);
    const expected = await dump(store, 'db');
    db.close();
    close(store);
    const reopened = await dump(await openStore(), 'db');
    expect((reopened as any).kv.keys).toHaveLength(40);
    expect(reopened).toEqual(expected);
  });

  it('refuses an incomplete or unknown snapshot with a typed error', async () => {
    writeFileSync(join(dir, STORE_FILES.SNAPSHOT), Buffer.concat([encodeFrame({ t: 'snapshot', format: 1, generation: 1 })]));
    await expect(DurableStore.open(dir)).rejects.toBeInstanceOf(CryptoStoreError);
    // The failed open released its lock.
    writeFileSync(join(dir, STORE_FILES.SNAPSHOT), '');
    await expect(openStore()).resolves.toBeInstanceOf(DurableStore);
  });

  it('does not journal the databases of another fake-indexeddb factory', async () => {
    const { IDBFactory } = require('fake-indexeddb') as { IDBFactory: new () => any };
    const foreign = new IDBFactory();
    const store = await openStore();
    const size = statSync(join(dir, STORE_FILES.JOURNAL)).size;
    const request = foreign.open('theirs', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('s').put(1, 'k');
    (await req<DB>(request)).close();
    expect(statSync(join(dir, STORE_FILES.JOURNAL)).size).toBe(size);
    close(store);
  });
});

describe('the store lock', () => {
  it('refuses a second open in this process while held, and is released by close', async () => {
    const store = await openStore();
    const error = await DurableStore.open(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CryptoStoreLockedError);
    expect((error as CryptoStoreLockedError).ownerPid).toBe(process.pid);
    close(store);
    await expect(openStore()).resolves.toBeInstanceOf(DurableStore);
  });

  it('refuses a lock held by another live process, takes over the lock of a dead one', async () => {
    const lock = join(dir, STORE_FILES.LOCK);
    // The parent of this jest worker runs (and is not us).
    writeFileSync(lock, String(process.ppid));
    await expect(DurableStore.open(dir)).rejects.toMatchObject({ name: 'CryptoStoreLockedError', ownerPid: process.ppid });
    // A pid that exited: the lock is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lock, dead);
    const store = await openStore();
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    close(store);
    // Garbage in the lock file (torn by a crash): taken over too.
    writeFileSync(lock, 'not a pid');
    appendFileSync(lock, '\n');
    await expect(openStore()).resolves.toBeInstanceOf(DurableStore);
  });

  it('a folder that cannot be made (a file in the way) is a CryptoStoreError, not a raw Node error', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const error = await DurableStore.open(join(blocker, 'store')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CryptoStoreError);
    expect((error as CryptoStoreError).cause).toMatchObject({ code: 'ENOTDIR' });
  });
});

function IDBKeyRangeBound(lower: unknown, upper: unknown): unknown {
  const { IDBKeyRange } = require('fake-indexeddb') as { IDBKeyRange: { bound(l: unknown, u: unknown): unknown } };
  return IDBKeyRange.bound(lower, upper);
}
