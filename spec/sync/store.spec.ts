import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, FileSyncStore, MemorySyncStore } from '../../lib/sync/store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sync-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const FILTER = { id: 'f1', definition: '{"room":{}}', userId: '@me:hs.test' };

describe('MemorySyncStore', () => {
  it('keeps the last event per room with the token: merged batch by batch, null forgets a room', () => {
    const store = new MemorySyncStore();
    expect(store.getLastEventId('!a:hs')).toBeUndefined();
    store.setSyncPosition('t1', new Map([['!a:hs', '$1'], ['!b:hs', '$2']]));
    store.setSyncPosition('t2', new Map([['!a:hs', '$3'], ['!b:hs', null]]));
    expect(store.getSyncToken()).toBe('t2');
    expect([store.getLastEventId('!a:hs'), store.getLastEventId('!b:hs')]).toEqual(['$3', undefined]);
  });

  it('keeps the token and the filter', () => {
    const store = new MemorySyncStore();
    expect(store.getSyncToken()).toBeUndefined();
    expect(store.getFilter()).toBeUndefined();
    store.setSyncToken('t1');
    store.setFilter(FILTER);
    expect(store.getSyncToken()).toBe('t1');
    expect(store.getFilter()).toEqual(FILTER);
    store.setFilter(undefined);
    expect(store.getFilter()).toBeUndefined();
  });
});

describe('FileSyncStore', () => {
  it('starts empty when the file does not exist, creating the directory on the first write', async () => {
    const file = join(dir, 'nested', 'deeper', 'sync.json');
    const store = new FileSyncStore(file, { fsync: false });
    expect(await store.getSyncToken()).toBeUndefined();
    expect(await store.getFilter()).toBeUndefined();
    await store.setSyncToken('t1');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, syncToken: 't1' });
  });

  it('is read back by a new instance (a restarted process), with mode 0600 and no temp file left', async () => {
    const file = join(dir, 'sync.json');
    const store = new FileSyncStore(file);
    await store.setSyncToken('t1');
    await store.setFilter(FILTER);
    await store.setSyncToken('t2');
    const again = new FileSyncStore(file);
    expect(await again.getSyncToken()).toBe('t2');
    expect(await again.getFilter()).toEqual(FILTER);
    expect(readdirSync(dir)).toEqual(['sync.json']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await again.setFilter(undefined);
    expect(await new FileSyncStore(file).getFilter()).toBeUndefined();
  });

  it('lands concurrent writes in call order', async () => {
    const file = join(dir, 'sync.json');
    const store = new FileSyncStore(file, { fsync: false });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.setSyncToken(`t${i}`)));
    expect(await new FileSyncStore(file).getSyncToken()).toBe('t19');
    expect(readdirSync(dir)).toEqual(['sync.json']);
  });

  it('replaces the file by rename: a reader never sees a half-written file', async () => {
    const file = join(dir, 'sync.json');
    const store = new FileSyncStore(file, { fsync: false });
    const big = 'x'.repeat(200_000);
    await store.setSyncToken(big);
    const writes = Array.from({ length: 10 }, (_, i) => store.setSyncToken(`${big}${i}`));
    let reads = 0;
    let settled = false;
    void Promise.all(writes).then(() => (settled = true));
    while (!settled) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { syncToken: string };
      expect(parsed.syncToken.startsWith(big)).toBe(true);
      reads++;
      await new Promise((r) => setImmediate(r));
    }
    expect(reads).toBeGreaterThan(0);
  });

  it('refuses a corrupt file instead of starting over, and a failed write is reported and leaves no temp file', async () => {
    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"version":1,"syncTo');
    await expect(new FileSyncStore(corrupt).getSyncToken()).rejects.toThrow(/not valid JSON/);
    const other = join(dir, 'other.json');
    writeFileSync(other, '{"something":"else"}');
    await expect(new FileSyncStore(other).getSyncToken()).rejects.toThrow(/not a version 1 sync store/);

    // The target is a directory: rename fails.
    const target = join(dir, 'is-a-dir');
    const store = new FileSyncStore(target, { fsync: false });
    mkdirSync(target);
    await expect(store.setSyncToken('t1')).rejects.toThrow();
    expect(readdirSync(dir).sort()).toEqual(['corrupt.json', 'is-a-dir', 'other.json']);
    // The queue is not stuck after a failure.
    rmSync(target, { recursive: true });
    await store.setSyncToken('t2');
    expect(await new FileSyncStore(target).getSyncToken()).toBe('t2');
  });

  it('writes the token and the last events in one atomic write, read back by a new instance', async () => {
    const file = join(dir, 'sync.json');
    const store = new FileSyncStore(file, { fsync: false });
    await store.setSyncPosition('t1', new Map([['!a:hs', '$1'], ['!b:hs', '$2']]));
    await store.setSyncPosition('t2', new Map([['!b:hs', null], ['!c:hs', '$3']]));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, syncToken: 't2', rooms: { '!a:hs': '$1', '!c:hs': '$3' } });
    const again = new FileSyncStore(file);
    expect(await again.getSyncToken()).toBe('t2');
    expect(await again.getLastEventId('!a:hs')).toBe('$1');
    expect(await again.getLastEventId('!b:hs')).toBeUndefined();
    expect(await again.getLastEventId('hasOwnProperty')).toBeUndefined();
    expect(readdirSync(dir)).toEqual(['sync.json']);
  });

  it('reads a file from before the last events were kept, and ignores malformed entries of them', async () => {
    const old = join(dir, 'old.json');
    writeFileSync(old, '{"version":1,"syncToken":"t9"}');
    const store = new FileSyncStore(old);
    expect(await store.getSyncToken()).toBe('t9');
    expect(await store.getLastEventId('!a:hs')).toBeUndefined();
    const odd = join(dir, 'odd.json');
    writeFileSync(odd, '{"version":1,"syncToken":"t9","rooms":{"!a:hs":5,"!b:hs":"$b","__proto__":"$p"}}');
    const oddStore = new FileSyncStore(odd);
    expect(await oddStore.getLastEventId('!a:hs')).toBeUndefined();
    expect(await oddStore.getLastEventId('!b:hs')).toBe('$b');
    expect(await oddStore.getLastEventId('__proto__')).toBe('$p');
    writeFileSync(odd, '{"version":1,"rooms":[]}');
    expect(await new FileSyncStore(odd).getLastEventId('!a:hs')).toBeUndefined();
  });

  it('needs a path', () => {
    expect(() => new FileSyncStore('')).toThrow(/file path/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });
});
