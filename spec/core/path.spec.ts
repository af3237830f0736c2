import nock from 'nock';
import { MatrixSession } from '../../lib';
import { ValidationError } from '../../lib/core/errors';
import { path, queryString } from '../../lib/core/path';

const BASE = 'http://hs.test';

class TestSession extends MatrixSession {
  get raw() {
    return this.core;
  }
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => {
  nock.enableNetConnect();
  // Unhook this file's nock from node:http, which jest shares between the files a worker runs.
  nock.restore();
});

describe('path`…` (one encoded segment per value)', () => {
  it.each([
    ['a plain ID', '!room:example.org', '!room%3Aexample.org'],
    ['a slash', 'a/b', 'a%2Fb'],
    ['".." inside a segment', 'a/../b', 'a%2F..%2Fb'],
    ['a segment starting with ".."', '../admin', '..%2Fadmin'],
    ['three dots', '...', '...'],
    ['a question mark', 'what?x=1', 'what%3Fx%3D1'],
    ['a hash', '#alias:example.org', '%23alias%3Aexample.org'],
    ['a percent sign', '100%', '100%25'],
    ['an already-encoded-looking value', '%2F', '%252F'],
    ['non-ASCII', 'ключ🔑', '%D0%BA%D0%BB%D1%8E%D1%87%F0%9F%94%91'],
    ['spaces and plus', 'a b+c', 'a%20b%2Bc'],
    ['an ampersand and equals', 'a&b=c', 'a%26b%3Dc'],
  ])('encodes %s', (_what, value, encoded) => {
    expect(path`/x/${value}/y`).toBe(`/x/${encoded}/y`);
  });

  it('encodes every interpolation on its own', () => {
    expect(path`/rooms/${'!r:hs'}/state/${'m.room.name'}/${'a/b'}`).toBe('/rooms/!r%3Ahs/state/m.room.name/a%2Fb');
  });

  it.each(['.', '..'])('rejects a segment that is exactly %j', (value) => {
    expect(() => path`/x/${value}`).toThrow(ValidationError);
    expect(() => path`/x/${value}`).toThrow('must not be "." or ".."');
  });

  it.each([
    ['an empty string', ''],
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { toString: () => 'x' }],
  ])('rejects %s', (_what, value) => {
    expect(() => path`/x/${value as string}`).toThrow(ValidationError);
  });

  it('rejects a lone surrogate with a ValidationError instead of a URIError', () => {
    expect(() => path`/x/${'a\uD800b'}`).toThrow(ValidationError);
  });

  it('hits the exact encoded path on the wire (nock compares the raw path)', async () => {
    const s = new TestSession({ baseUrl: BASE, accessToken: 'tok' });
    const hostile = ['a/../b', '?q=1', '#frag', '50%', 'ü/ñ', '..x', 'x..'];
    for (const v of hostile) {
      const encoded = encodeURIComponent(v);
      const scope = nock(BASE).get(`/_matrix/client/v3/thing/${encoded}/end`).reply(200, { ok: v });
      const res = await s.raw.request<{ ok: string }>({ method: 'GET', path: path`/_matrix/client/v3/thing/${v}/end` });
      expect(res.ok).toBe(v);
      expect(scope.isDone()).toBe(true);
    }
  });
});

describe('queryString', () => {
  it('is empty without a query or with only undefined values', () => {
    expect(queryString(undefined)).toBe('');
    expect(queryString({})).toBe('');
    expect(queryString({ a: undefined })).toBe('');
  });

  it('encodes keys and values, and leaves undefined out', () => {
    expect(queryString({ a: 'x y', b: undefined, c: 'a&b=c#d' })).toBe('?a=x%20y&c=a%26b%3Dc%23d');
  });

  it('writes numbers and booleans as text', () => {
    expect(queryString({ limit: 10, full_state: false, x: true })).toBe('?limit=10&full_state=false&x=true');
  });

  it('repeats the key for arrays', () => {
    expect(queryString({ via: ['a.org', 'b.org:8448'], dir: 'b' })).toBe('?via=a.org&via=b.org%3A8448&dir=b');
  });

  it('leaves an empty array out entirely', () => {
    expect(queryString({ via: [] })).toBe('');
  });

  it('encodes non-ASCII values', () => {
    expect(queryString({ q: 'ключ' })).toBe('?q=%D0%BA%D0%BB%D1%8E%D1%87');
  });

  it('rejects a lone surrogate with a ValidationError', () => {
    expect(() => queryString({ q: '\uDC00' })).toThrow(ValidationError);
  });

  it('repeated keys arrive as such on the wire', async () => {
    const s = new TestSession({ baseUrl: BASE, accessToken: 'tok' });
    const scope = nock(BASE)
      .get('/_matrix/client/v3/join-ish')
      .query((q) => JSON.stringify(q.via) === JSON.stringify(['a.org', 'b.org']) && q.reason === 'x&y')
      .reply(200, {});
    await s.raw.request({ method: 'GET', path: '/_matrix/client/v3/join-ish', query: { via: ['a.org', 'b.org'], reason: 'x&y' } });
    expect(scope.isDone()).toBe(true);
  });
});
