/* eslint-disable @typescript-eslint/no-require-imports */
import type Bs58 from 'bs58' with { 'resolution-mode': 'require' };
import { ValidationError } from '../core/errors';

/**
 * The recovery key of a key backup, in the spec's form (Client-Server API, "Server-side key
 * backups" and the appendix "Cryptographic key representation"): the bytes 0x8B 0x01, the
 * 32-byte private key, and a parity byte (the XOR of all bytes before it), in base58 with the
 * Bitcoin alphabet, shown in groups of 4 characters. matrix-js-sdk's `encodeRecoveryKey` and
 * `decodeRecoveryKey` use the same encoding (Element also uses it for its secret-storage key).
 */
const PREFIX = [0x8b, 0x01] as const;
const KEY_BYTES = 32;
const ENCODED_BYTES = PREFIX.length + KEY_BYTES + 1;
/** 35 bytes that start with 0x8B are always 48 base58 characters (58^47 < 0x8B01 << 264, 2^280 < 58^48). */
const ENCODED_CHARS = 48;

/** What is wrong with a recovery key (`RecoveryKeyError.problem`). */
export type RecoveryKeyProblem = 'encoding' | 'length' | 'prefix' | 'parity';

const PROBLEMS: Record<RecoveryKeyProblem, string> = {
  encoding: 'must be a recovery key in base58 (or the backup key in base64)',
  length: `must be ${ENCODED_CHARS} characters besides spaces (one is missing or extra)`,
  prefix: 'must start with the recovery key prefix (is it another kind of key?)',
  parity: 'has a wrong parity byte (a character is mistyped)',
};

/**
 * A recovery key that is not well-formed: `problem` says how. The key itself is never in the
 * message (it is a secret).
 */
export class RecoveryKeyError extends ValidationError {
  override name = 'RecoveryKeyError';
  constructor(
    /** What is wrong: `encoding`, `length`, `prefix` or `parity`. */
    readonly problem: RecoveryKeyProblem,
  ) {
    super('recoveryKey', PROBLEMS[problem]);
  }
}

// Loaded on first use, like the rest of the encryption code: the cold import stays as it is.
const bs58 = (): typeof Bs58 => (require('bs58') as { default: typeof Bs58 }).default;

/**
 * Encodes a 32-byte backup key as a recovery key, e.g. `EsTX stPZ WWhE …` (12 groups).
 *
 * @throws {ValidationError} when `key` is not 32 bytes.
 * @example
 * const recoveryKey = encodeRecoveryKey(privateKeyBytes);
 */
export function encodeRecoveryKey(key: Uint8Array): string {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new ValidationError('key', `must be ${KEY_BYTES} bytes`);
  const bytes = Buffer.alloc(ENCODED_BYTES);
  bytes.set(PREFIX, 0);
  bytes.set(key, PREFIX.length);
  bytes[ENCODED_BYTES - 1] = parity(bytes.subarray(0, ENCODED_BYTES - 1));
  return bs58().encode(bytes).match(/.{1,4}/g)!.join(' ');
}

/**
 * Decodes a recovery key to the 32-byte backup key. Whitespace anywhere is ignored, as the
 * spec asks (groups, line breaks); letters are not case-folded (base58 has both cases).
 *
 * @throws {RecoveryKeyError} with `problem` `encoding` (a character outside base58),
 *   `length`, `prefix` or `parity`.
 * @example
 * const key = decodeRecoveryKey(process.env.RECOVERY_KEY!); // 32 bytes
 */
export function decodeRecoveryKey(recoveryKey: string): Buffer {
  const compact = typeof recoveryKey === 'string' ? recoveryKey.replace(/\s+/g, '') : '';
  const decoded = compact === '' ? undefined : bs58().decodeUnsafe(compact);
  if (!decoded) throw new RecoveryKeyError('encoding');
  if (compact.length !== ENCODED_CHARS || decoded.length !== ENCODED_BYTES) throw new RecoveryKeyError('length');
  if (decoded[0] !== PREFIX[0] || decoded[1] !== PREFIX[1]) throw new RecoveryKeyError('prefix');
  if (parity(decoded) !== 0) throw new RecoveryKeyError('parity');
  return Buffer.from(decoded.subarray(PREFIX.length, PREFIX.length + KEY_BYTES));
}

/** The backup key in base64, as `createBackup` returned it before recovery keys (43 or 44 characters). */
const LEGACY_BASE64 = /^[A-Za-z0-9+/]{43}=?$/;

/**
 * What `crypto.restoreBackup` takes: a recovery key, or (for keys saved from earlier
 * versions of this SDK) the 32-byte backup key in plain base64. The two cannot be confused:
 * a recovery key is 48 characters without its spaces.
 *
 * @throws {RecoveryKeyError} when it is neither.
 */
export function backupKeyFrom(input: string): Buffer {
  const compact = input.replace(/\s+/g, '');
  if (LEGACY_BASE64.test(compact)) return Buffer.from(compact, 'base64');
  return decodeRecoveryKey(compact);
}

function parity(bytes: Uint8Array): number {
  let p = 0;
  for (const b of bytes) p ^= b;
  return p;
}
