// Encrypted attachments: the format (JWK, IV with a zero 64-bit counter, SHA-256 of the
// ciphertext), interoperability with WebCrypto's AES-CTR (what Element uses), streaming and
// in-memory forms, and every malformed `file` refused.
import { createHash, webcrypto } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AttachmentEncryptor,
  AttachmentHashError,
  ValidationError,
  decryptAttachment,
  decryptingStream,
  encryptAttachment,
  type EncryptedFile,
} from '../../lib';
import { checkEncryptedFile } from '../../lib/media/attachment';

const URL = 'mxc://example.org/enc';
const b64 = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('the format', () => {
  it('a v2 file: an A256CTR octet JWK (43 base64url characters), an unpadded 16-byte IV whose counter half is zero, the SHA-256 of the ciphertext', () => {
    const plain = Buffer.from('hello attachments');
    const { data, info } = encryptAttachment(plain);
    expect(info.v).toBe('v2');
    expect(info.key).toEqual({ kty: 'oct', key_ops: ['encrypt', 'decrypt'], alg: 'A256CTR', k: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), ext: true });
    expect(info.iv).toMatch(/^[A-Za-z0-9+/]{22}$/);
    expect(b64(info.iv).subarray(8)).toEqual(Buffer.alloc(8));
    expect(info.hashes.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(b64(info.hashes.sha256)).toEqual(createHash('sha256').update(data).digest());
    expect(data.length).toBe(plain.length);
    expect(data.equals(plain)).toBe(false);
  });

  it('every attachment gets its own key and IV', () => {
    const a = encryptAttachment(Buffer.from('same'));
    const b = encryptAttachment(Buffer.from('same'));
    expect(a.info.key.k).not.toBe(b.info.key.k);
    expect(a.info.iv).not.toBe(b.info.iv);
    expect(a.data.equals(b.data)).toBe(false);
  });

  it('interoperates with WebCrypto AES-CTR with a 64-bit counter (how Element encrypts and decrypts)', async () => {
    const plain = Buffer.alloc(100_000, 9);
    const { data, info } = encryptAttachment(plain);
    const key = await webcrypto.subtle.importKey('jwk', info.key as webcrypto.JsonWebKey, { name: 'AES-CTR' }, false, ['encrypt', 'decrypt']);
    const counter = b64(info.iv);
    const theirs = Buffer.from(await webcrypto.subtle.decrypt({ name: 'AES-CTR', counter, length: 64 }, key, data));
    expect(theirs.equals(plain)).toBe(true);
    // And the other way: their ciphertext, our decryption.
    const other = Buffer.from(await webcrypto.subtle.encrypt({ name: 'AES-CTR', counter, length: 64 }, key, Buffer.from('from element')));
    const file: EncryptedFile = { ...info, url: URL, hashes: { sha256: createHash('sha256').update(other).digest('base64').replace(/=+$/, '') } };
    expect(decryptAttachment(other, file).toString()).toBe('from element');
  });

  it.each([
    ['two blocks before its wrap', 'fffffffffffffffe'],
    ['at its last value', 'ffffffffffffffff'],
    ['random', 'random'],
  ])('an IV whose 64-bit counter is %s: decrypted as WebCrypto (length 64) encrypted it, in memory and streamed', async (_, low) => {
    // Another client's IV (ours start the counter at zero): WebCrypto wraps the low 64 bits
    // to zero without carrying into the high half, which OpenSSL's 128-bit counter would.
    const plain = Buffer.from(Array.from({ length: 1000 }, (_v, i) => i % 251));
    const { info } = encryptAttachment(Buffer.alloc(1));
    const counter = Buffer.concat([b64(info.iv).subarray(0, 8), low === 'random' ? webcrypto.getRandomValues(Buffer.alloc(8)) : Buffer.from(low, 'hex')]);
    const key = await webcrypto.subtle.importKey('jwk', info.key as webcrypto.JsonWebKey, { name: 'AES-CTR' }, false, ['encrypt']);
    const theirs = Buffer.from(await webcrypto.subtle.encrypt({ name: 'AES-CTR', counter, length: 64 }, key, plain));
    const file: EncryptedFile = {
      ...info,
      url: URL,
      iv: counter.toString('base64').replace(/=+$/, ''),
      hashes: { sha256: createHash('sha256').update(theirs).digest('base64') },
    };
    expect(decryptAttachment(theirs, file).equals(plain)).toBe(true);
    // Pieces that end before, on and after the wrap (32 bytes in, for the first IV).
    const pieces = [theirs.subarray(0, 5), theirs.subarray(5, 32), theirs.subarray(32, 33), theirs.subarray(33, 200), theirs.subarray(200)];
    expect((await collect(Readable.from(pieces).pipe(decryptingStream(file)))).equals(plain)).toBe(true);
    const straddling = [theirs.subarray(0, 20), theirs.subarray(20)];
    expect((await collect(Readable.from(straddling).pipe(decryptingStream(file)))).equals(plain)).toBe(true);
  });
});

describe('streams', () => {
  it('AttachmentEncryptor: every stream() gives the same ciphertext (a retried upload), and file() holds its hash', async () => {
    const plain = Buffer.alloc(300_000, 3);
    const encryptor = new AttachmentEncryptor();
    expect(() => encryptor.file(URL)).toThrow(/before a stream/);
    const one = await collect(Readable.from([plain]).pipe(encryptor.stream()));
    const two = await collect(Readable.from([plain.subarray(0, 7), plain.subarray(7)]).pipe(encryptor.stream()));
    expect(one.equals(two)).toBe(true);
    const file = encryptor.file(URL);
    expect(file.url).toBe(URL);
    expect(decryptAttachment(one, file).equals(plain)).toBe(true);
    expect(() => encryptor.file('not mxc')).toThrow(ValidationError);
  });

  it('decryptingStream: the plaintext, in pieces of any size', async () => {
    const plain = Buffer.from('x'.repeat(50_000));
    const { data, info } = encryptAttachment(plain);
    const pieces = [data.subarray(0, 1), data.subarray(1, 17), data.subarray(17, 40_000), data.subarray(40_000)];
    expect((await collect(Readable.from(pieces).pipe(decryptingStream({ ...info, url: URL })))).equals(plain)).toBe(true);
  });

  it('a changed ciphertext fails the stream at its end with AttachmentHashError, before "end"', async () => {
    const { data, info } = encryptAttachment(Buffer.from('do not trust me'));
    data[3] ^= 1;
    const out = decryptingStream({ ...info, url: URL });
    let ended = false;
    out.on('end', () => (ended = true));
    const e = await pipeline(Readable.from([data]), out, async function* (source) {
      for await (const chunk of source) yield chunk;
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AttachmentHashError);
    expect((e as AttachmentHashError).url).toBe(URL);
    expect(ended).toBe(false);
    expect(() => decryptAttachment(data, { ...info, url: URL })).toThrow(AttachmentHashError);
  });
});

describe('a malformed file is a ValidationError naming the field', () => {
  const { info } = encryptAttachment(Buffer.from('x'));
  const good: EncryptedFile = { ...info, url: URL };
  it.each<[string, unknown]>([
    ['file', null],
    ['file.url', { ...good, url: 'https://x' }],
    ['file.v', { ...good, v: 'v1' }],
    ['file.key', { ...good, key: 'k' }],
    ['file.key', { ...good, key: { ...good.key, alg: 'A128CTR' } }],
    ['file.key', { ...good, key: { ...good.key, kty: 'RSA' } }],
    ['file.key.key_ops', { ...good, key: { ...good.key, key_ops: ['encrypt'] } }],
    ['file.key.key_ops', { ...good, key: { ...good.key, key_ops: 'decrypt' } }],
    ['file.key.k', { ...good, key: { ...good.key, k: 'short' } }],
    ['file.key.k', { ...good, key: { ...good.key, k: 42 } }],
    ['file.iv', { ...good, iv: 'AAAA' }],
    ['file.iv', { ...good, iv: 'not base64!' }],
    ['file.hashes', { ...good, hashes: null }],
    ['file.hashes.sha256', { ...good, hashes: {} }],
    ['file.hashes.sha256', { ...good, hashes: { sha256: 'abc' } }],
  ])('%s', (parameter, file) => {
    let error: unknown;
    try {
      checkEncryptedFile('file', file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).parameter).toBe(parameter);
  });

  it('padded base64 and base64url spellings are accepted', () => {
    const padded = { ...good, iv: `${good.iv}==`, hashes: { sha256: `${good.hashes.sha256}=` }, key: { ...good.key, k: good.key.k } };
    expect(() => checkEncryptedFile('file', padded)).not.toThrow();
    expect(() => decryptingStream(padded)).not.toThrow();
  });
});
