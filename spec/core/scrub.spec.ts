import { BODY_LIMITS, boundedCopy, clip, redact, REDACTED, secretList } from '../../lib/core/scrub';

describe('secretList', () => {
  it('drops empty and missing entries and duplicates, longest first', () => {
    expect(secretList(['ab', undefined, '', 'abcdef', 'ab'])).toEqual(['abcdef', 'ab']);
  });
});

describe('redact', () => {
  const LONG = 'syt_a-long-access-token_01';

  it('replaces a long secret wherever it occurs, glued to other text or not', () => {
    expect(redact(`x${LONG}y ${LONG}`, [LONG])).toBe(`x${REDACTED}y ${REDACTED}`);
  });

  it('replaces a short secret only where it stands apart from letters, digits and _', () => {
    expect(redact('pw: "pw", pw.', ['pw'])).toBe(`${REDACTED}: "${REDACTED}", ${REDACTED}.`);
    expect(redact('m.login.password pwd _pw', ['pw'])).toBe('m.login.password pwd _pw');
  });

  it('treats regular-expression characters in a secret literally', () => {
    expect(redact('a (x+y)* b', ['(x+y)*'])).toBe(`a ${REDACTED} b`);
    expect(redact('a xxy b', ['x+y'])).toBe('a xxy b');
  });

  it('a secret that contains another is replaced whole when the list is longest first', () => {
    const outer = `${LONG}-and-more`;
    expect(redact(`<${outer}>`, secretList([LONG, outer]))).toBe(`<${REDACTED}>`);
  });
});

describe('clip', () => {
  it('keeps short text, cuts long text with a marker naming the length', () => {
    expect(clip('abc', 3)).toBe('abc');
    expect(clip('abcdef', 3)).toBe('abc… [truncated, 6 characters]');
  });

  it('never leaves half a surrogate pair', () => {
    expect(clip('ab😀cd', 3)).toBe('ab… [truncated, 6 characters]');
  });
});

describe('boundedCopy', () => {
  it('copies JSON values, redacting strings and keys', () => {
    const src = { a: [1, true, null, 's3cr3t-token-123456789'], 's3cr3t-token-123456789': { b: 'x' } };
    expect(boundedCopy(src, ['s3cr3t-token-123456789'])).toEqual({ a: [1, true, null, REDACTED], [REDACTED]: { b: 'x' } });
  });

  it('turns values JSON has no form for into text (bigint, symbol); undefined stays undefined', () => {
    expect(boundedCopy({ n: 10n, u: undefined, s: Symbol('x') }, [])).toEqual({ n: '10', u: undefined, s: 'Symbol(x)' });
  });

  it('stops at the depth limit with a marker', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = [deep];
    let copy = boundedCopy(deep, []);
    let depth = 0;
    while (Array.isArray(copy)) {
      copy = copy[0];
      depth++;
    }
    expect(depth).toBe(BODY_LIMITS.maxDepth);
    expect(copy).toBe('[truncated: nested too deep]');
  });

  it('stops at the text budget with a marker, in arrays and objects', () => {
    const big = Array.from({ length: 100 }, () => 'x'.repeat(4096));
    const copy = boundedCopy(big, []) as string[];
    expect(copy.length).toBeLessThan(100);
    expect(copy.at(-1)).toMatch(/^\[truncated: \d+ more items\]$/);
    expect(JSON.stringify(copy).length).toBeLessThan(BODY_LIMITS.maxChars + 8192);
    const one = boundedCopy({ s: 'y'.repeat(100_000) }, []) as { s: string };
    expect(one.s).toMatch(new RegExp(`^y{${BODY_LIMITS.maxString}}… \\[truncated, 100000 characters\\]$`));
  });
});
