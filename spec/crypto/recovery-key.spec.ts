// The recovery key format (spec: Server-side key backups → recovery key; appendix
// "Cryptographic key representation"): vectors from matrix-js-sdk, the spec's steps redone here
// with BigInt arithmetic (not the base58 package the SDK uses), round trips against
// matrix-js-sdk's own encoder and decoder, whitespace, and every malformed key refused.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { RecoveryKeyError, ValidationError, decodeRecoveryKey, encodeRecoveryKey } from '../../lib';
import { backupKeyFrom } from '../../lib/crypto/recovery-key';

const BITCOIN = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** The spec's steps: prefix, key, parity, base58 (Bitcoin alphabet), groups of 4. */
function bySpec(key: Uint8Array, prefix = [0x8b, 0x01], parityDelta = 0): string {
  const bytes = [...prefix, ...key];
  bytes.push(bytes.reduce((p, b) => p ^ b, 0) ^ parityDelta);
  let n = BigInt('0x' + Buffer.from(bytes).toString('hex'));
  let out = '';
  while (n > 0n) {
    out = BITCOIN[Number(n % 58n)] + out;
    n /= 58n;
  }
  return out.match(/.{1,4}/g)!.join(' '); // no leading zero bytes: the prefix starts with 0x8B
}

const problemOf = (text: string): string | undefined => {
  try {
    decodeRecoveryKey(text);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(RecoveryKeyError);
    return (e as RecoveryKeyError).problem;
  }
};

const COUNTING = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('encodeRecoveryKey', () => {
  it('matches matrix-js-sdk 43 on fixed keys (vectors from its encodeRecoveryKey)', () => {
    expect(encodeRecoveryKey(COUNTING)).toBe('EsSz ykH7 LCZx 7Cae cmKD wcmY JRXi Ybtu 8iQ3 t8Ez nRwK pUY1');
    expect(encodeRecoveryKey(new Uint8Array(32).fill(255))).toBe('EsUK 2TRo ZKTB CKmv wEDA o6rq tTYu aKzp eJ9f 95nM 3VHk Xbnq');
    expect(encodeRecoveryKey(new Uint8Array(32))).toBe('EsSz ygLv VP1b xF1C v7kE eBQx MxDP buG5 w25T L3b6 hfyG Kkrd');
  });

  it('follows the spec’s steps for random keys: 12 groups of 4 base58 characters', () => {
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(32);
      const text = encodeRecoveryKey(key);
      expect(text).toBe(bySpec(key));
      expect(text).toMatch(/^[1-9A-HJ-NP-Za-km-z]{4}( [1-9A-HJ-NP-Za-km-z]{4}){11}$/);
      expect(decodeRecoveryKey(text)).toEqual(key);
    }
  });

  it('takes 32 bytes only', () => {
    expect(() => encodeRecoveryKey(new Uint8Array(31))).toThrow(ValidationError);
    expect(() => encodeRecoveryKey('a'.repeat(32) as never)).toThrow(ValidationError);
  });
});

describe('decodeRecoveryKey', () => {
  const text = encodeRecoveryKey(COUNTING);

  it('ignores whitespace anywhere: none, tabs, line breaks, other spaces around and inside', () => {
    const compact = text.replace(/ /g, '');
    for (const variant of [compact, ` ${text} `, text.replace(/ /g, '\t'), text.replace(/ /g, '\n'), `${compact.slice(0, 10)}\u00a0 ${compact.slice(10)}\r\n`]) {
      expect(decodeRecoveryKey(variant)).toEqual(Buffer.from(COUNTING));
    }
  });

  it('is case-sensitive (base58 uses both cases): a key in other case is refused, not read as another key', () => {
    expect(problemOf(text.toLowerCase())).toBeDefined();
    expect(problemOf(text.toUpperCase())).toBeDefined();
  });

  it('a character outside the Bitcoin alphabet (0, O, I, l, +, /, -) or nothing at all: problem "encoding"', () => {
    for (const bad of ['0', 'O', 'I', 'l', '+', '/', '-', 'é']) expect(problemOf(text.replace('y', bad))).toBe('encoding');
    expect(problemOf('')).toBe('encoding');
    expect(problemOf(' \n ')).toBe('encoding');
    expect(problemOf(undefined as never)).toBe('encoding');
  });

  it('a key of 31 or 33 bytes, or a character missing: problem "length"', () => {
    expect(problemOf(bySpec(COUNTING.subarray(0, 31)))).toBe('length');
    expect(problemOf(bySpec(Buffer.concat([COUNTING, Buffer.from([7])])))).toBe('length');
    expect(problemOf(text.slice(0, -1))).toBe('length');
  });

  it('another prefix (a correct parity): problem "prefix"', () => {
    expect(problemOf(bySpec(COUNTING, [0x8b, 0x02]))).toBe('prefix');
    expect(problemOf(bySpec(COUNTING, [0x8c, 0x01]))).toBe('prefix');
  });

  it('a wrong parity byte, or a mistyped character: problem "parity"', () => {
    expect(problemOf(bySpec(COUNTING, [0x8b, 0x01], 1))).toBe('parity');
    expect(problemOf(text.replace('ykH7', 'ykH8'))).toBe('parity');
  });

  it('the error is a ValidationError of recoveryKey, and never shows the key (a secret)', () => {
    const mistyped = text.replace('ykH7', 'ykH8');
    let error: unknown;
    try {
      decodeRecoveryKey(mistyped);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'RecoveryKeyError', parameter: 'recoveryKey', problem: 'parity' });
    const shown = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack}`;
    for (const group of mistyped.split(' ')) expect(shown).not.toContain(group);
  });
});

describe('what restoreBackup takes (backupKeyFrom)', () => {
  it('a recovery key, or the key in plain base64 as createBackup returned it before (padded or not)', () => {
    const key = randomBytes(32);
    expect(backupKeyFrom(encodeRecoveryKey(key))).toEqual(key);
    expect(backupKeyFrom(key.toString('base64'))).toEqual(key);
    expect(backupKeyFrom(key.toString('base64').replace(/=+$/, ''))).toEqual(key);
    expect(backupKeyFrom(` ${key.toString('base64')}\n`)).toEqual(key);
  });

  it('anything else is a RecoveryKeyError', () => {
    expect(() => backupKeyFrom('bm90IGEga2V5')).toThrow(RecoveryKeyError); // base64 of 9 bytes
    expect(() => backupKeyFrom(randomBytes(33).toString('base64'))).toThrow(RecoveryKeyError);
    // base64url of 32 bytes: always '-' or '_' here (0xfb 0xff encodes as '-_'), which plain base64 never has.
    expect(() => backupKeyFrom(Buffer.alloc(32, 0xfb).fill(0xff, 1, 2).toString('base64url'))).toThrow(RecoveryKeyError);
  });
});

describe('against matrix-js-sdk 43 (its crypto-api encoder and decoder, in a child process: it is ESM-only)', () => {
  it('its recovery keys decode to its keys here, and ours decode to ours there', async () => {
    const keys = Array.from({ length: 20 }, () => randomBytes(32));
    const ours = keys.map((k) => encodeRecoveryKey(k));
    const script = `
      import { encodeRecoveryKey, decodeRecoveryKey } from 'matrix-js-sdk/lib/crypto-api/recovery-key.js';
      const { keys, ours } = JSON.parse(process.argv[1]);
      const theirs = keys.map((k) => encodeRecoveryKey(Buffer.from(k, 'hex')));
      const decoded = ours.map((t) => Buffer.from(decodeRecoveryKey(t)).toString('hex'));
      process.stdout.write(JSON.stringify({ theirs, decoded }));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script, JSON.stringify({ keys: keys.map((k) => k.toString('hex')), ours })],
      { cwd: __dirname },
    );
    const { theirs, decoded } = JSON.parse(stdout) as { theirs: string[]; decoded: string[] };
    expect(decoded).toEqual(keys.map((k) => k.toString('hex')));
    expect(theirs.map((t) => decodeRecoveryKey(t))).toEqual(keys);
    expect(theirs).toEqual(ours);
  });
});
