import { ValidationError } from '../../lib/core/errors';
import { check } from '../../lib/core/validate';

/** Runs a check and returns the ValidationError it threw (failing the test if it threw nothing or something else). */
function failure(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

const LONG_LOCALPART = 'a'.repeat(250);

const ID_CASES: Record<
  'userId' | 'roomId' | 'roomAlias' | 'eventId' | 'mxcUri' | 'serverName' | 'clientSecret',
  { good: string[]; bad: unknown[] }
> = {
  userId: {
    good: ['@alice:example.org', '@a:localhost:8448', '@bob:[::1]', '@bob:1.2.3.4:80', '@älice/../x:example.org', '@=_-./:hs'],
    bad: ['alice:example.org', '@alice', '@:example.org', '@al ice:example.org', '@alice:', '@alice:exa mple.org',
      '@a\nb:example.org', '@a:b:c', '@a:example.org:port', `@${LONG_LOCALPART}:example.org`, '', 42, null, undefined, {}, ['@a:b']],
  },
  roomId: {
    good: ['!abc:example.org', '!abcDEF123', '!a/b+c=:hs.test:8008'],
    bad: ['abc:example.org', '!', '!:example.org', '!a b:example.org', '#abc:example.org', '!a\u0000:hs', '', 7, null],
  },
  roomAlias: {
    good: ['#room:example.org', '#ümlaut:hs.test', '#a/b?c:hs'],
    bad: ['room:example.org', '#room', '#:example.org', '!room:example.org', '#ro om:hs', '', false],
  },
  eventId: {
    good: ['$abc', '$abc:example.org', '$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg'],
    bad: ['abc', '$', '$a b', '$a\tb', '!abc', '', 1.5],
  },
  mxcUri: {
    good: ['mxc://example.org/abcDEF_-123', 'mxc://hs.test:8448/x'],
    bad: ['http://example.org/abc', 'mxc://example.org/', 'mxc://example.org/a/b', 'mxc://example.org/a.b', 'mxc:///abc', '', null],
  },
  serverName: {
    good: ['example.org', 'localhost', 'hs.test:8448', '1.2.3.4', '[::1]:8448'],
    bad: ['', 'exa mple.org', 'example.org:', 'example.org:123456', 'https://example.org', 'example.org/path', '@x:y', 3],
  },
  clientSecret: {
    good: ['abc', 'A-Z_a.z=09', 'x'.repeat(255)],
    bad: ['', 'x'.repeat(256), 'with space', 'semi;colon', 'ü', 'a/b', undefined, 123],
  },
};

describe('check: Matrix identifiers', () => {
  for (const [kind, { good, bad }] of Object.entries(ID_CASES)) {
    const fn = check[kind as keyof typeof ID_CASES];
    it.each(good)(`${kind} accepts %j and returns it`, (v) => {
      expect(fn('param', v)).toBe(v);
    });
    it.each(bad.map((v) => [v]))(`${kind} rejects %j`, (v) => {
      const error = failure(() => fn('theParam', v));
      expect(error.parameter).toBe('theParam');
      expect(error.message).toMatch(/^Invalid theParam: must be/);
    });
  }

  it('limits IDs to 255 bytes, counting UTF-8 bytes, not characters', () => {
    const fits = `@${'a'.repeat(255 - '@:hs'.length)}:hs`;
    expect(Buffer.byteLength(fits)).toBe(255);
    expect(check.userId('u', fits)).toBe(fits);
    const multiByte = `@${'é'.repeat(126)}:hs`; // 126 chars, 252 bytes + 4
    expect(multiByte.length).toBeLessThan(255);
    failure(() => check.userId('u', multiByte));
  });

  it('never echoes the rejected value in the message (it might be a secret put in the wrong place)', () => {
    const error = failure(() => check.userId('user', 'hunter2-secret-password'));
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error)).not.toContain('hunter2');
  });

  it('roomIdOrAlias takes either and rejects anything else', () => {
    expect(check.roomIdOrAlias('r', '!a:hs')).toBe('!a:hs');
    expect(check.roomIdOrAlias('r', '#a:hs')).toBe('#a:hs');
    for (const bad of ['@a:hs', 'a:hs', '', '#', '!', '#a', null, 5]) {
      failure(() => check.roomIdOrAlias('r', bad));
    }
    expect(failure(() => check.roomIdOrAlias('r', '$e')).rule).toMatch(/room ID .* or a room alias/);
  });
});

describe('check: scalar rules', () => {
  it('string: accepts text, rejects non-strings, empty, too long, control characters', () => {
    expect(check.string('s', 'hello ünïcode 🔑')).toBe('hello ünïcode 🔑');
    expect(check.string('s', '', { allowEmpty: true })).toBe('');
    expect(check.string('s', 'line\nbreak', { multiline: true })).toBe('line\nbreak');
    expect(check.string('s', 'x'.repeat(10), { max: 10 })).toHaveLength(10);
    expect(failure(() => check.string('s', 5)).rule).toBe('must be a string');
    expect(failure(() => check.string('s', undefined)).rule).toBe('must be a string');
    expect(failure(() => check.string('s', {})).rule).toBe('must be a string');
    expect(failure(() => check.string('s', '')).rule).toBe('must not be empty');
    expect(failure(() => check.string('s', 'x'.repeat(11), { max: 10 })).rule).toBe('must be at most 10 characters');
    for (const c of ['\n', '\r', '\t', '\u0000', '\u001b', '\u007f']) {
      expect(failure(() => check.string('s', `a${c}b`)).rule).toBe('must not contain control characters');
    }
  });

  it('int: integers within bounds only', () => {
    expect(check.int('n', 0)).toBe(0);
    expect(check.int('n', 5, { min: 5, max: 5 })).toBe(5);
    expect(check.int('n', -3, { min: -10 })).toBe(-3);
    for (const bad of [1.5, -1, NaN, Infinity, '3', null, undefined, 2 ** 53, true]) {
      expect(failure(() => check.int('n', bad)).rule).toMatch(/^must be an integer from 0 to /);
    }
    failure(() => check.int('n', 11, { max: 10 }));
    failure(() => check.int('n', 4, { min: 5 }));
  });

  it('bool: true and false only', () => {
    expect(check.bool('b', true)).toBe(true);
    expect(check.bool('b', false)).toBe(false);
    for (const bad of [0, 1, 'true', null, undefined]) failure(() => check.bool('b', bad));
  });

  it('oneOf: exact members only', () => {
    const allowed = ['public', 'private'] as const;
    expect(check.oneOf('v', 'public', allowed)).toBe('public');
    for (const bad of ['Public', 'PRIVATE', '', 'other', null, 0, ['public']]) {
      expect(failure(() => check.oneOf('v', bad, allowed)).rule).toBe('must be one of "public", "private"');
    }
  });

  it('email: addresses only, at most 254 characters', () => {
    expect(check.email('e', 'alice@example.org')).toBe('alice@example.org');
    expect(check.email('e', 'a.b+tag@sub.example.co.uk')).toBe('a.b+tag@sub.example.co.uk');
    // Single-label domains are real on test and intranet homeservers (Synapse accepts them).
    expect(check.email('e', 'user@localhost')).toBe('user@localhost');
    const long = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}.org`;
    for (const bad of ['', 'alice', 'alice@', '@example.org', 'a b@example.org', 'alice@exa mple', long, 42, null]) {
      failure(() => check.email('e', bad));
    }
  });

  it('country: upper-case ISO 3166-1 alpha-2 only', () => {
    expect(check.country('c', 'GB')).toBe('GB');
    expect(check.country('c', 'US')).toBe('US');
    for (const bad of ['gb', 'Gb', 'GBR', 'XX', 'ZZ', '', 'G', 44, null]) failure(() => check.country('c', bad));
  });

  it('object: plain objects, not arrays or null', () => {
    const o = { a: 1 };
    expect(check.object('o', o)).toBe(o);
    expect(check.object('o', {})).toEqual({});
    for (const bad of [null, undefined, [], 'x', 1, true]) {
      expect(failure(() => check.object('o', bad)).rule).toBe('must be an object');
    }
  });

  it('array: checks each item and names it by index', () => {
    expect(check.array('list', ['@a:hs', '@b:hs'], check.userId)).toEqual(['@a:hs', '@b:hs']);
    expect(check.array('list', [], check.userId)).toEqual([]);
    expect(failure(() => check.array('list', 'x', check.userId)).rule).toBe('must be an array');
    expect(failure(() => check.array('list', ['@a:hs', 'bad'], check.userId)).parameter).toBe('list[1]');
  });

  it('optional: runs the rule only when a value is present (null counts as present)', () => {
    const rule = jest.fn();
    check.optional(undefined, rule);
    expect(rule).not.toHaveBeenCalled();
    check.optional(null, rule);
    check.optional(0, rule);
    expect(rule).toHaveBeenCalledTimes(2);
    expect(() => check.optional(null as unknown as string, (v) => check.string('s', v))).toThrow(ValidationError);
  });
});

describe('check.baseUrl (WHATWG URL parsing, then the rules of a base URL)', () => {
  it.each([
    ['https://matrix.example.org', 'https://matrix.example.org'],
    ['http://127.0.0.1:8008', 'http://127.0.0.1:8008'],
    ['https://matrix.example.org/', 'https://matrix.example.org'],
    ['https://matrix.example.org///', 'https://matrix.example.org'],
    ['https://example.org/matrix', 'https://example.org/matrix'],
    ['https://example.org/matrix/', 'https://example.org/matrix'],
    ['https://example.org/a/b%20c/', 'https://example.org/a/b%20c'],
    ['HTTPS://Example.ORG:443/Matrix', 'https://example.org/Matrix'],
    ['http://[::1]:8008', 'http://[::1]:8008'],
  ])('accepts %j as %j', (input, normal) => {
    expect(check.baseUrl('baseUrl', input)).toBe(normal);
  });

  it.each([
    ['http://host/?x=', 'must not have a query (?…)'],
    ['http://host?', 'must not have a query (?…)'],
    ['https://host/matrix?access_token=x', 'must not have a query (?…)'],
    ['http://host/#frag', 'must not have a fragment (#…)'],
    ['http://host#', 'must not have a fragment (#…)'],
    ['http://user:pass@host', 'must not contain user info (user:password@)'],
    ['http://user@host/path', 'must not contain user info (user:password@)'],
    ['http://@host', 'must not contain user info (user:password@)'],
    [' http://host', 'must not have leading or trailing whitespace'],
    ['http://host ', 'must not have leading or trailing whitespace'],
    ['http://host\n', 'must not have leading or trailing whitespace'],
    ['http://ho\tst', 'must not contain control characters'],
    ['http://host/a\nb', 'must not contain control characters'],
    ['ftp://host', 'must use the http:// or https:// scheme'],
    ['ws://host', 'must use the http:// or https:// scheme'],
    ['file:///etc/passwd', 'must use the http:// or https:// scheme'],
    ['javascript:alert(1)', 'must use the http:// or https:// scheme'],
    ['host.example.org', 'must be an absolute http:// or https:// URL'],
    ['/relative/path', 'must be an absolute http:// or https:// URL'],
    ['http://', 'must be an absolute http:// or https:// URL'],
    ['http://host:99999', 'must be an absolute http:// or https:// URL'],
    ['', 'must be an absolute http:// or https:// URL'],
    [`https://example.org/${'a'.repeat(2100)}`, 'must be at most 2048 characters'],
    [42, 'must be a string'],
    [null, 'must be a string'],
  ])('refuses %j: %s', (input, rule) => {
    const e = failure(() => check.baseUrl('baseUrl', input));
    expect(e.parameter).toBe('baseUrl');
    expect(e.rule).toBe(rule);
    expect(e.message).toBe(`Invalid baseUrl: ${rule}`); // the value (user info may hold a password) is never echoed
  });
});
