import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AttachmentHashError, ValidationError } from '../core/errors';
import { check } from '../core/validate';

/**
 * Encrypted attachments (spec: End-to-end encryption § Sending encrypted attachments): the
 * file is encrypted with AES-256-CTR under a random 256-bit key and a random IV whose low 64
 * bits (the block counter) start at zero, then uploaded; the event carries `file` (this
 * object) instead of `url`. The primitives are node:crypto's (OpenSSL); nothing here is
 * hand-written crypto.
 */
export interface EncryptedFile {
  /** The mxc:// URI of the ciphertext. */
  url: string;
  /** The AES key as a JSON Web Key. */
  key: AttachmentKey;
  /** The 16-byte IV, unpadded base64. */
  iv: string;
  /** Hashes of the ciphertext by algorithm. */
  hashes: {
    /** The SHA-256 of the ciphertext, unpadded base64. */
    sha256: string;
    [algorithm: string]: string;
  };
  /** The format version: `v2`. */
  v: 'v2';
}

/** A JSON Web Key for AES-256-CTR, as encrypted attachments carry it. */
export interface AttachmentKey {
  /** Key type: `oct` (a symmetric key). */
  kty: 'oct';
  /** What the key may do: `encrypt` and `decrypt`. */
  key_ops: string[];
  /** `A256CTR`: AES-256 in counter mode. */
  alg: 'A256CTR';
  /** The 32-byte key, unpadded base64url. */
  k: string;
  /** Extractable: `true`. */
  ext: true;
  [field: string]: unknown;
}

/** An EncryptedFile before its ciphertext has an mxc:// URI. */
export type EncryptedFileInfo = Omit<EncryptedFile, 'url'>;

/** What `encryptAttachment` returns. */
export interface EncryptedAttachment {
  /** The ciphertext, to upload. */
  data: Buffer;
  /** The `file` object without its `url`. */
  info: EncryptedFileInfo;
}

const ALGORITHM = 'aes-256-ctr';

const unpadded = (buf: Buffer, url = false) => buf.toString(url ? 'base64url' : 'base64').replace(/=+$/, '');

/** Decodes (un)padded base64 or base64url; undefined when it is not. */
function fromBase64(v: unknown, bytes: number): Buffer | undefined {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) return undefined;
  const buf = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return buf.length === bytes ? buf : undefined;
}

/**
 * Encrypts one attachment, possibly more than once (a retried upload): every `stream()` uses
 * the same key and IV, so each attempt yields the same ciphertext, and the hash of the last
 * one to finish goes into `file()`.
 */
export class AttachmentEncryptor {
  readonly #key = randomBytes(32);
  readonly #iv = newIv();
  #sha256?: Buffer;

  /** A transform from plaintext to ciphertext that hashes what it outputs. */
  stream(): Transform {
    return new CipherStream(createCipheriv(ALGORITHM, this.#key, this.#iv), 'output', (digest) => {
      this.#sha256 = digest;
    });
  }

  /**
   * The `file` object for an event, once a `stream()` has been read to its end.
   *
   * @throws {Error} when no stream has finished (a programming error).
   */
  file(url: string): EncryptedFile {
    check.mxcUri('url', url);
    if (!this.#sha256) throw new Error('AttachmentEncryptor.file() before a stream() was read to its end');
    return { url, ...describe(this.#key, this.#iv, this.#sha256) };
  }
}

/** Random high 64 bits, a zero counter: 2^64 blocks before it would wrap into the random half. */
function newIv(): Buffer {
  return Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
}

function describe(key: Buffer, iv: Buffer, sha256: Buffer): EncryptedFileInfo {
  return {
    key: { kty: 'oct', key_ops: ['encrypt', 'decrypt'], alg: 'A256CTR', k: unpadded(key, true), ext: true },
    iv: unpadded(iv),
    hashes: { sha256: unpadded(sha256) },
    v: 'v2',
  };
}

/**
 * A transform from ciphertext to plaintext that checks the ciphertext's SHA-256 against
 * `file.hashes.sha256` at the end: on a mismatch it fails with AttachmentHashError instead of
 * ending, so a reader that waits for the end (`pipeline`, `downloadToFile`) never takes the
 * data for good. AES-CTR does not authenticate: until the end, the bytes are unverified.
 *
 * @throws {ValidationError} when `file` is not a well-formed v2 EncryptedFile.
 */
export function decryptingStream(file: EncryptedFile): Transform {
  const { key, iv, sha256 } = checkEncryptedFile('file', file);
  return new CipherStream(ctr64Decipher(key, iv), 'input', (digest, fail) => {
    if (!timingSafeEqual(digest, sha256)) fail(new AttachmentHashError(file.url));
  });
}

/**
 * Encrypts `data` in memory for an upload: the ciphertext and the `file` object without its
 * `url` (add the mxc:// URI of the uploaded ciphertext).
 *
 * @example
 * const { data: ciphertext, info } = encryptAttachment(png);
 * const url = await session.media.upload(ciphertext);
 * const file: EncryptedFile = { ...info, url };
 */
export function encryptAttachment(data: Buffer | Uint8Array): EncryptedAttachment {
  const key = randomBytes(32);
  const iv = newIv();
  const cipher = createCipheriv(ALGORITHM, key, iv);
  const out = Buffer.concat([cipher.update(data), cipher.final()]);
  return { data: out, info: describe(key, iv, createHash('sha256').update(out).digest()) };
}

/**
 * Decrypts a downloaded attachment held in memory, after checking its hash.
 *
 * @throws {AttachmentHashError} when the ciphertext does not match `file.hashes.sha256`.
 * @throws {ValidationError} when `file` is malformed.
 */
export function decryptAttachment(data: Buffer | Uint8Array, file: EncryptedFile): Buffer {
  const { key, iv, sha256 } = checkEncryptedFile('file', file);
  // The hash first, as the spec asks: nothing is decrypted from a ciphertext that is not the one named.
  if (!timingSafeEqual(createHash('sha256').update(data).digest(), sha256)) throw new AttachmentHashError(file.url);
  const decipher = ctr64Decipher(key, iv);
  return Buffer.concat([decipher.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength)), decipher.final()]);
}

/** What CipherStream runs: a node:crypto Cipher, or ctr64Decipher's wrapper of one. */
interface StreamCipher {
  update(data: Buffer): Buffer;
  final(): Buffer;
}

/**
 * AES-256-CTR decryption whose counter is the IV's low 64 bits alone, as v2 attachments
 * define it (WebCrypto's `length: 64`, what Element encrypts with): past 2^64 - 1 it wraps to
 * zero and the high half stays as it is, where OpenSSL's 128-bit counter would carry into it.
 * An IV made the spec's way starts the counter at zero and never gets there; another client's
 * IV with a counter near its end is decrypted as its sender encrypted it. The wrap falls on a
 * block boundary, so the rest is a new decipher from counter zero.
 */
function ctr64Decipher(key: Buffer, iv: Buffer): StreamCipher {
  const blocks = 2n ** 64n - iv.readBigUInt64BE(8);
  let untilWrap = blocks * 16n > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(blocks * 16n);
  let decipher = createDecipheriv(ALGORITHM, key, iv);
  return {
    update(data) {
      if (data.length < untilWrap) {
        untilWrap -= data.length;
        return decipher.update(data);
      }
      const head = decipher.update(data.subarray(0, untilWrap));
      const rest = data.subarray(untilWrap);
      decipher = createDecipheriv(ALGORITHM, key, Buffer.concat([iv.subarray(0, 8), Buffer.alloc(8)]));
      untilWrap = Infinity; // the next wrap is 2^64 blocks further
      return Buffer.concat([head, decipher.update(rest)]);
    },
    final: () => decipher.final(),
  };
}

/**
 * Checks an EncryptedFile read from an event (untrusted): v2, an A256CTR octet key of 32
 * bytes allowed to decrypt, a 16-byte IV, a 32-byte SHA-256, an mxc:// URL.
 *
 * @throws {ValidationError} naming the field that is wrong.
 */
export function checkEncryptedFile(name: string, v: unknown): { key: Buffer; iv: Buffer; sha256: Buffer } {
  const file = check.object(name, v);
  check.mxcUri(`${name}.url`, file.url);
  if (file.v !== 'v2') throw new ValidationError(`${name}.v`, 'must be "v2"');
  const jwk = check.object(`${name}.key`, file.key);
  if (jwk.kty !== 'oct' || jwk.alg !== 'A256CTR') throw new ValidationError(`${name}.key`, 'must be an A256CTR octet key');
  if (!Array.isArray(jwk.key_ops) || !jwk.key_ops.includes('decrypt')) {
    throw new ValidationError(`${name}.key.key_ops`, 'must include "decrypt"');
  }
  const key = fromBase64(jwk.k, 32);
  if (!key) throw new ValidationError(`${name}.key.k`, 'must be a 256-bit key in base64url');
  const iv = fromBase64(file.iv, 16);
  if (!iv) throw new ValidationError(`${name}.iv`, 'must be 16 bytes in base64');
  const hashes = check.object(`${name}.hashes`, file.hashes);
  const sha256 = fromBase64(hashes.sha256, 32);
  if (!sha256) throw new ValidationError(`${name}.hashes.sha256`, 'must be a SHA-256 digest in base64');
  return { key, iv, sha256 };
}

/**
 * A cipher as a stream, hashing its input or output with SHA-256 on the way; `done` sees the
 * digest at the end and may fail the stream.
 */
class CipherStream extends Transform {
  readonly #hash: Hash = createHash('sha256');

  constructor(
    private readonly cipher: StreamCipher,
    private readonly hashes: 'input' | 'output',
    private readonly done: (digest: Buffer, fail: (error: Error) => void) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.hashes === 'input') this.#hash.update(chunk);
    const out = this.cipher.update(chunk);
    if (this.hashes === 'output') this.#hash.update(out);
    callback(null, out);
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.cipher.final(); // empty for CTR; kept for form
    if (this.hashes === 'output') this.#hash.update(rest);
    let failure: Error | undefined;
    this.done(this.#hash.digest(), (error) => (failure = error));
    if (failure) return callback(failure);
    if (rest.length > 0) this.push(rest);
    callback();
  }
}
