/* eslint-disable @typescript-eslint/no-require-imports */
import type { UiaAuth } from '../auth/uia';
import { checkUiaAuth } from '../auth/uia';
import type { RoomEvent } from '../builders/room-event';
import { NotLoggedInError } from '../core/errors';
import type { RequestCore, RequestOptions } from '../core/request';
import { check } from '../core/validate';
import type { CryptoEngine } from '../crypto/engine';
import { CryptoError, CryptoNotStartedError } from '../crypto/errors';
import { backupKeyFrom } from '../crypto/recovery-key';
import { RoomCryptoState, type BackupRestoreResult } from '../crypto/room-state';
import type { MatrixSession } from '../session';
import type { SyncHooks } from '../sync/hooks';
import type { UndecryptableInfo } from '../sync/types';
import type { ClientEvent, SyncResponse } from '../types';
import { Resource } from './resource';

export type { BackupRestoreResult, RoomEncryptionContent } from '../crypto/room-state';

const MEGOLM = 'm.megolm.v1.aes-sha2';

/** What `crypto.start` takes. */
export interface CryptoStartOptions {
  /**
   * The folder that holds this device's crypto state (created if missing, mode 0700): keep
   * it across restarts, one folder per device. See docs/encryption.md for what is in it.
   */
  storeDir: string;
  /** Encrypts the secrets in the store (the engine's own store encryption); needed again at every start. */
  passphrase?: string;
}

/** What `crypto.bootstrapCrossSigning` takes. */
export interface BootstrapCrossSigningOptions {
  /** User-interactive auth for the key upload, answered like `account.changePassword`'s. The first upload usually needs none. */
  auth?: UiaAuth;
  /** Make new keys even if this device already holds all three (replacing keys on the server asks for auth). */
  reset?: boolean;
}

/** `session.crypto.status()`. */
export interface CryptoStatus {
  /** Whether encryption is running; the other fields are present only when it is. */
  started: boolean;
  /** The device encryption runs for. */
  deviceId?: string;
  /** This device's identity keys (unpadded base64). */
  identityKeys?: {
    /** The Curve25519 key (Olm sessions). */
    curve25519: string;
    /** The Ed25519 key (signatures; what a device fingerprint shows). */
    ed25519: string;
  };
  /** The key backup being written to, if any. */
  backupVersion?: string;
}

/** A room event that could not be decrypted by `crypto.decryptEvent`. */
export class UndecryptableEventError extends CryptoError {
  override name = 'UndecryptableEventError';
  constructor(
    /** The event's ID, when it had one. */
    readonly eventId: string | undefined,
    /** Why it could not be decrypted: the engine's code and reason. */
    readonly info: UndecryptableInfo,
  ) {
    super(`Event ${eventId ?? '(no ID)'} cannot be decrypted: ${info.code} (${info.reason})`);
  }
}

/**
 * End-to-end encryption (`session.crypto`), with the official Rust crypto engine
 * (`@matrix-org/matrix-sdk-crypto-wasm`, an optional peer dependency loaded only by
 * `start`). Once started, messages sent with `rooms.sendEvent` and every helper on it are
 * encrypted in encrypted rooms, and the sync loop hands listeners the decrypted events.
 * Whether started or not, a message is never sent in clear into an encrypted room.
 */
export class Crypto extends Resource {
  /** Internal: the room encryption knowledge the send decision uses (it works without the engine). */
  readonly #rooms: RoomCryptoState;
  #engine?: CryptoEngine;
  #starting?: Promise<void>;
  #storeDir?: string;

  constructor(session: MatrixSession, core: RequestCore) {
    super(session, core);
    this.#rooms = new RoomCryptoState(core, () => session.sync.running);
  }

  /**
   * Starts encryption for the session's user and device, with its state in `storeDir`.
   * Call it after login and before `sync.start()`. Calling it again while started (or
   * starting) with the same folder does nothing more.
   *
   * @param opts `storeDir` (required) and `passphrase`.
   * @throws ValidationError when `storeDir` or `passphrase` is not a string.
   * @throws NotLoggedInError without an access token, user ID or device ID.
   * @throws CryptoError when encryption is already started with another `storeDir`.
   * @throws CryptoPackageMissingError when `@matrix-org/matrix-sdk-crypto-wasm` is not installed.
   * @throws CryptoStoreLockedError when another session or process has the store open.
   * @throws CryptoPassphraseError when the passphrase is not the store's.
   * @throws CryptoStoreError when the store cannot be read, or belongs to another user or device.
   * @example
   * await session.account.login(Auth.password('bot', pw));
   * await session.crypto.start({ storeDir: './crypto', passphrase: process.env.STORE_KEY });
   * await session.sync.start();
   */
  async start(opts: CryptoStartOptions): Promise<void> {
    check.object('opts', opts);
    check.string('storeDir', opts.storeDir, { max: 4096 });
    check.optional(opts.passphrase, (v) => check.string('passphrase', v, { max: 4096, multiline: true }));
    const { accessToken, userId, deviceId } = this.core.credentials;
    if (!accessToken || !userId || !deviceId) throw new NotLoggedInError('crypto.start() (it needs the user and device ID)');
    if (this.#starting || (this.#engine && !this.#engine.stopped)) {
      if (this.#storeDir !== opts.storeDir) throw new CryptoError('Encryption is already started with another store folder');
      return this.#starting;
    }
    const { CryptoEngine } = require('../crypto/engine') as typeof import('../crypto/engine');
    this.#storeDir = opts.storeDir;
    const starting = CryptoEngine.start(
      { core: this.core, rooms: this.#rooms, userId, deviceId, onError: (error) => this.#report(error) },
      { storeDir: opts.storeDir, passphrase: opts.passphrase },
    ).then((engine) => {
      this.#engine = engine;
    });
    this.#starting = starting;
    try {
      await starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /** Stops encryption: the engine is closed and its store released. Sending into encrypted rooms then fails (CryptoNotStartedError). */
  async stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    const engine = this.#engine;
    this.#engine = undefined;
    await engine?.stop();
  }

  /** True between a successful `start()` and `stop()`. */
  get started(): boolean {
    return this.#engine !== undefined && !this.#engine.stopped;
  }

  /** What is running: the device and its identity keys, and the backup being written to. */
  async status(): Promise<CryptoStatus> {
    const engine = this.#engine;
    if (!engine || engine.stopped) return { started: false };
    return {
      started: true,
      deviceId: this.core.credentials.deviceId,
      identityKeys: engine.identityKeys,
      backupVersion: await engine.backupVersion(),
    };
  }

  /**
   * Creates the user's cross-signing keys (master, self-signing, user-signing), uploads them
   * and signs this device with them, so other users' clients show it as verified by its
   * owner. Resolves with false when the keys were already held (and `reset` not asked for).
   *
   * @param opts `auth` to answer the server's user-interactive auth for the key upload;
   *   `reset: true` to make new keys even if they are held.
   * @throws ValidationError on bad options.
   * @throws CryptoError before `start()`.
   * @throws MatrixError when the server refuses the upload (e.g. UIA that `auth` cannot answer).
   * @example
   * await session.crypto.bootstrapCrossSigning({ auth: Auth.password(session.userId!, pw) });
   */
  async bootstrapCrossSigning(opts: BootstrapCrossSigningOptions = {}): Promise<boolean> {
    check.object('opts', opts);
    check.optional(opts.auth, (v) => checkUiaAuth('auth', v));
    check.optional(opts.reset, (v) => check.bool('reset', v));
    return this.#running().bootstrapCrossSigning(opts.auth, opts.reset ?? false);
  }

  /** Whether this device is signed by its owner's cross-signing key (what `bootstrapCrossSigning` does). */
  async isDeviceCrossSigned(): Promise<boolean> {
    return this.#running().isDeviceCrossSigned();
  }

  /**
   * Creates a server-side key backup: from now on every room key this device holds or
   * receives is uploaded, encrypted, to it. Resolves with the recovery key, the only way to
   * read the backup: store it safely (it is not kept in clear anywhere else). It is in the
   * spec's format (base58, 12 groups of 4 characters: `EsTX stPZ …`), which matrix-js-sdk's
   * `decodeRecoveryKey` reads.
   *
   * @throws CryptoError before `start()`.
   * @throws MatrixError when the server refuses to create the backup.
   * @example
   * const recoveryKey = await session.crypto.createBackup(); // 'EsTX stPZ WWhE …'
   */
  async createBackup(): Promise<string> {
    return (await this.#running().createBackup()).recoveryKey;
  }

  /**
   * Imports the room keys of the server's current backup, decrypted with `recoveryKey`, and
   * carries on backing up to it: a redeployed bot (a new device) reads its history. Events
   * that were undecryptable for want of these keys are delivered by the next sync batch.
   *
   * @param recoveryKey The backup's recovery key (`createBackup`'s, or matrix-js-sdk's
   *   `encodeRecoveryKey` of the backup's private key); whitespace is ignored. For keys saved
   *   from earlier versions of this SDK, the private key in base64 is accepted too. Element's
   *   "Recovery key" is a secret-storage key, not this one (secret storage is not supported).
   * @throws ValidationError when `recoveryKey` is not a string.
   * @throws RecoveryKeyError (a ValidationError) when the key is malformed: its `problem` is
   *   `encoding`, `length`, `prefix` or `parity`.
   * @throws CryptoError when the key is not the current backup's, when the server's backup
   *   uses an algorithm this SDK cannot read, or before `start()`.
   * @throws MatrixError e.g. 404 M_NOT_FOUND when the server holds no backup.
   * @example
   * const { imported } = await session.crypto.restoreBackup(process.env.RECOVERY_KEY!);
   */
  async restoreBackup(recoveryKey: string): Promise<BackupRestoreResult> {
    check.string('recoveryKey', recoveryKey, { max: 1024, multiline: true });
    const privateKey = backupKeyFrom(recoveryKey);
    return this.#running().restoreBackup(privateKey);
  }

  /**
   * Decrypts an event read outside the sync loop (e.g. from `rooms.messages`). An event that
   * is not encrypted is returned as it is.
   *
   * @throws UndecryptableEventError with the reason when it cannot be decrypted.
   */
  async decryptEvent<E extends Pick<ClientEvent, 'type' | 'content' | 'room_id'> & Partial<ClientEvent>>(event: E): Promise<E> {
    check.object('event', event);
    if (event.type !== 'm.room.encrypted') return event;
    check.roomId('event.room_id', event.room_id);
    const result = await this.#running().decrypt(event.room_id, event as unknown as ClientEvent);
    if ('failure' in result) throw new UndecryptableEventError(event.event_id, result.failure);
    return result.event as unknown as E;
  }

  /** Whether the room is encrypted (known from sync, else asked of the server once). */
  async isRoomEncrypted(roomId: string, options?: RequestOptions): Promise<boolean> {
    check.roomId('roomId', roomId);
    return (await this.#rooms.encryption(roomId, options)) !== null;
  }

  /**
   * The send decision, used by `rooms.sendEvent` for every message it sends: the event as
   * it is in a room that is not encrypted, its `m.room.encrypted` form in one that is, and
   * a CryptoNotStartedError there when encryption is not running. Internal.
   * @internal
   */
  async wireEvent(event: RoomEvent<object>, options?: RequestOptions): Promise<{ type: string; content: object }> {
    if (event.type === 'm.room.encrypted') return event; // encrypted by the caller
    const encryption = await this.#rooms.encryption(event.roomId, options);
    if (!encryption) return event;
    const engine = await this.#engineFor(event.roomId);
    if (encryption.algorithm !== MEGOLM) {
      throw new CryptoError(`Room ${event.roomId} uses the encryption algorithm ${encryption.algorithm}, which is not supported`);
    }
    const content = await engine.encrypt(event.roomId, event.type, event.content, encryption, options);
    return { type: 'm.room.encrypted', content };
  }

  /**
   * For the media helpers, before they upload anything into an encrypted room: resolves when
   * events for `roomId` can be encrypted now (waiting for a `start()` under way), else
   * throws the CryptoNotStartedError a send would. Internal.
   * @internal
   */
  async ensureRunning(roomId: string): Promise<void> {
    await this.#engineFor(roomId);
  }

  /** The running engine, after a start under way; CryptoNotStartedError naming the room otherwise. */
  async #engineFor(roomId: string) {
    await this.#starting?.catch(() => undefined);
    const engine = this.#engine;
    if (!engine || engine.stopped) throw new CryptoNotStartedError(roomId);
    return engine;
  }

  /**
   * A state event this session set (or a room it created with it): an `m.room.encryption`
   * is known at once, so the next message into the room is encrypted. Internal.
   * @internal
   */
  stateSent(roomId: string, type: string, content: object): void {
    const algorithm = (content as { algorithm?: unknown }).algorithm;
    if (type === 'm.room.encryption' && typeof algorithm === 'string') this.#rooms.setEncrypted(roomId, { ...content, algorithm });
  }

  /**
   * The hooks the sync loop calls for each batch. Internal.
   * @internal
   */
  readonly syncHooks: SyncHooks = {
    receive: async (body: SyncResponse) => {
      const engine = this.#live();
      if (engine) await engine.receive(body);
    },
    prepare: async (body: SyncResponse) => {
      const newMembers = this.#rooms.observe(body);
      const engine = this.#live();
      return engine ? engine.prepare(body, newMembers) : false;
    },
    done: () => this.#live()?.done(),
  };

  #live(): CryptoEngine | undefined {
    const engine = this.#engine;
    return engine && !engine.stopped ? engine : undefined;
  }

  #running(): CryptoEngine {
    const engine = this.#live();
    if (!engine) throw new CryptoError('Encryption is not started (call session.crypto.start first)');
    return engine;
  }

  #report(error: unknown): void {
    this.session.emit('sync.error', error, { source: 'crypto', retryInMs: undefined, failures: 0 });
  }
}
