import { MatrixSessionError } from '../core/errors';

/** The npm package that holds the encryption engine (an optional peer dependency). */
export const WASM_PACKAGE = '@matrix-org/matrix-sdk-crypto-wasm';

/** Base of the encryption errors. */
export class CryptoError extends MatrixSessionError {
  override name = 'CryptoError';
}

/** `crypto.start()` could not load the engine: the optional peer dependency is not installed. */
export class CryptoPackageMissingError extends CryptoError {
  override name = 'CryptoPackageMissingError';
  /** The package to install: `@matrix-org/matrix-sdk-crypto-wasm`. */
  readonly packageName = WASM_PACKAGE;
  constructor(
    /** The error `require` threw. */
    override readonly cause?: unknown,
  ) {
    super(`End-to-end encryption needs the package ${WASM_PACKAGE} (npm install ${WASM_PACKAGE}@18)`);
  }
}

/** Another session, in this process or another one, has the crypto store open. */
export class CryptoStoreLockedError extends CryptoError {
  override name = 'CryptoStoreLockedError';
  constructor(
    /** The lock file's path, inside the store folder. */
    readonly lockFile: string,
    /** The pid written in the lock file, when readable. */
    readonly ownerPid: number | undefined,
  ) {
    super(`The crypto store is in use${ownerPid ? ` by process ${ownerPid}` : ''} (lock file ${lockFile})`);
  }
}

/** The store was created with another passphrase (or with one, and none was given). */
export class CryptoPassphraseError extends CryptoError {
  override name = 'CryptoPassphraseError';
  constructor() {
    super('The crypto store cannot be opened with this passphrase');
  }
}

/** The store on disk cannot be read, or a write to it failed (the store then refuses further writes). */
export class CryptoStoreError extends CryptoError {
  override name = 'CryptoStoreError';
  constructor(
    message: string,
    /** The underlying error (a file-system or engine error), when there is one. */
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/**
 * A message was to be sent into an encrypted room while encryption is not started: it is
 * refused rather than sent in clear. Call `session.crypto.start()` first.
 */
export class CryptoNotStartedError extends CryptoError {
  override name = 'CryptoNotStartedError';
  constructor(
    /** The encrypted room the message was for. */
    readonly roomId: string,
  ) {
    super(`Room ${roomId} is encrypted: start encryption (session.crypto.start) before sending into it`);
  }
}
