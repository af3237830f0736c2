import { inspect, type InspectOptions } from 'node:util';
import type { EventEmitter } from 'eventemitter3';
import { SafeEmitter } from './core/emitter';
import { ValidationError } from './core/errors';
import { RequestCore, type CoreOptions } from './core/request';
import { check } from './core/validate';
import type { SessionEvents } from './events';
import { setSyncHooks } from './sync/hooks';
import { SYNC_EVENT_NAMES } from './sync/types';
import { Account } from './resources/account';
import { Crypto } from './resources/crypto';
import { Media } from './resources/media';
import { Profile } from './resources/profile';
import { Rooms } from './resources/rooms';
import { Server } from './resources/server';
import { Sync } from './resources/sync';
import { Threepid } from './resources/threepid';

/** What `new MatrixSession()` takes: the request core's options, and optionally a stored session to resume. */
export interface SessionOptions extends CoreOptions {
  /** Resume a session: the token and the IDs it belongs to. */
  accessToken?: string;
  /** The refresh token of a resumed session: with it, a token the server refuses is renewed by itself. */
  refreshToken?: string;
  /** The user the token belongs to (`@name:server`); learnt from `account.whoami()` when absent. */
  userId?: string;
  /** The device the token belongs to (at most 255 characters); needed by `crypto.start()`. */
  deviceId?: string;
}

/** Stored credentials, as `setCredentials` and the constructor take them. */
export interface StoredCredentials {
  /** The access token to send from now on. */
  accessToken: string;
  /** The refresh token; when absent, the one held is dropped and no refresh is possible. */
  refreshToken?: string;
  /** The user the token belongs to; the one held is kept when absent. */
  userId?: string;
  /** The device the token belongs to; the one held is kept when absent. */
  deviceId?: string;
}

/** What an endpoint group's constructor takes: the session (with the base event map) and its core. */
export type GroupConstructor<G> = new (session: MatrixSession, core: RequestCore) => G;

type Events<E extends SessionEvents> = EventEmitter.EventNames<E>;
type Listener<E extends SessionEvents, K extends Events<E>> = EventEmitter.EventListener<E, K>;

function checkCredentials(c: Partial<StoredCredentials>): void {
  check.optional(c.accessToken, (v) => check.token('accessToken', v));
  check.optional(c.refreshToken, (v) => check.token('refreshToken', v));
  check.optional(c.userId, (v) => check.userId('userId', v));
  check.optional(c.deviceId, (v) => check.string('deviceId', v, { max: 255 }));
}

/**
 * A stateful Matrix client: the homeserver's base URL and, once logged in, the access
 * token, user ID and device ID. Endpoints are grouped on `account`, `rooms`, `profile`,
 * `threepid`, `server`, `sync`, `media` and `crypto`; auth changes and the sync loop's
 * events are emitted as typed events (SessionEvents).
 *
 * Subclassing: a subclass may replace a group with its own subclass of it,
 * `override readonly rooms = this.group(MyRooms)`, call `this.core.request(...)` for an
 * endpoint the SDK does not wrap, and add events of its own by widening the event map:
 * `class Bot extends MatrixSession<SessionEvents & { ready: [count: number] }>`.
 */
export class MatrixSession<E extends SessionEvents = SessionEvents> extends SafeEmitter<E> {
  /** The request pipeline. Subclasses call `this.core.request(...)` for endpoints we do not wrap. */
  protected readonly core: RequestCore;
  /** Login, registration, logout, password, deactivation, token refresh and global account data. */
  readonly account: Account;
  /** Rooms: creation, membership, timeline and state, sending (text, media, replies), the directory, aliases, receipts. */
  readonly rooms: Rooms;
  /** Profiles (display name, avatar, custom fields) and the user directory. */
  readonly profile: Profile;
  /** Third-party identifiers (email addresses, phone numbers): validation, adding, removal, identity-server binding. */
  readonly threepid: Threepid;
  /** The server itself: spec versions, capabilities, client-server discovery. */
  readonly server: Server;
  /** The sync loop (`start`, `stop`, `events()`) and single sync requests (`once`). */
  readonly sync: Sync;
  /** End-to-end encryption: `start({ storeDir })` before syncing; see docs/encryption.md. */
  readonly crypto: Crypto;
  /** The content repository: uploads, downloads, thumbnails, mxc:// helpers (docs/media.md). */
  readonly media: Media;

  /**
   * Creates a session for one homeserver; no request is sent. With `accessToken` (and the
   * IDs) it resumes a stored session.
   *
   * @param options `baseUrl` (required), the stored credentials to resume, and the request
   *   core's settings: `timeoutMs`, `maxResponseBytes`, `maxRetries`, `maxRateLimitWaitMs`,
   *   `backoffBaseMs`, `backoffMaxMs`, `logger`.
   * @throws {ValidationError} when an option is invalid (a `baseUrl` that is not an http(s)
   *   URL, a `userId` that is not a user ID, a timeout out of range, …).
   * @example
   * const session = new MatrixSession({ baseUrl: 'https://matrix.example.org' });
   * const resumed = new MatrixSession({ baseUrl, accessToken, refreshToken, userId, deviceId });
   */
  constructor(options: SessionOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new ValidationError('baseUrl', 'is required (options must be an object)');
    check.baseUrl('baseUrl', options.baseUrl);
    checkCredentials(options);
    this.core = new RequestCore(options, {
      rateLimited: (info) => this.notify('rateLimited', info),
      tokenRefreshed: (info) => this.notify('tokenChanged', info),
      sessionExpired: (info) => {
        // Keep the user and device IDs: after a soft logout the app logs in again with them.
        this.core.credentials.set({});
        this.notify('sessionExpired', info);
      },
    });
    this.core.credentials.set(options);
    this.account = this.group(Account);
    this.rooms = this.group(Rooms);
    this.profile = this.group(Profile);
    this.threepid = this.group(Threepid);
    this.server = this.group(Server);
    this.sync = this.group(Sync);
    this.crypto = this.group(Crypto);
    setSyncHooks(this.sync, this.crypto.syncHooks);
    this.media = this.group(Media);
  }

  /**
   * Makes an endpoint group bound to this session and its core. For subclasses that replace
   * a group (`override readonly rooms = this.group(MyRooms)`) or add one of their own.
   */
  protected group<G>(Group: GroupConstructor<G>): G {
    // Groups see the session with its base event map, whatever a subclass adds to E.
    return new Group(this as unknown as MatrixSession, this.core);
  }

  /** The homeserver's base URL, as given (trailing slashes dropped). */
  get baseUrl(): string {
    return this.core.baseUrl;
  }
  /** True while an access token is held (it may still be refused by the server). */
  get isLoggedIn(): boolean {
    return this.core.credentials.accessToken !== undefined;
  }
  /** The logged-in user's ID; kept after `sessionExpired`, cleared by a logout. */
  get userId(): string | undefined {
    return this.core.credentials.userId;
  }
  /** This session's device ID; kept after `sessionExpired`, cleared by a logout. */
  get deviceId(): string | undefined {
    return this.core.credentials.deviceId;
  }

  /** The access token, for apps that store the session. Deliberately not a property. */
  getAccessToken(): string | undefined {
    return this.core.credentials.accessToken;
  }
  /** The refresh token, if one is held, for apps that store the session. Deliberately not a property. */
  getRefreshToken(): string | undefined {
    return this.core.credentials.refreshToken;
  }

  /**
   * Adopts stored credentials (e.g. after a restart) and emits `tokenChanged`. Both tokens
   * are replaced (a missing `refreshToken` drops the one held); the user and device IDs
   * only when given. Nothing is sent.
   *
   * @param c The access token, and optionally the refresh token, user ID and device ID.
   * @throws {ValidationError} when `c` is not an object, `accessToken` is not a non-empty
   *   string, or an ID is malformed. Thrown synchronously.
   * @example
   * session.setCredentials({ accessToken: stored.accessToken, refreshToken: stored.refreshToken });
   */
  setCredentials(c: StoredCredentials): void {
    check.object('credentials', c);
    check.token('accessToken', c.accessToken);
    checkCredentials(c);
    this.core.credentials.set(c);
    this.notify('tokenChanged', { accessToken: c.accessToken, refreshToken: c.refreshToken });
  }

  /**
   * Aborts every request in flight (they reject with AbortError), stops the sync loop and
   * encryption (releasing its store). Every later request rejects with AbortError: the
   * session cannot be used again. Calling it twice is harmless.
   *
   * @throws Nothing of its own: it resolves once the loop and encryption have stopped.
   * @example
   * process.once('SIGTERM', () => void session.close());
   */
  async close(): Promise<void> {
    this.core.close();
    await this.sync.stop();
    await this.crypto.stop();
  }

  // SafeEmitter's overrides take `any`; these restore eventemitter3's typed signatures, so
  // listeners are checked against the event map E (a subclass's own events included).

  /**
   * Adds a listener for `event` (SessionEvents, SyncEvents, and a subclass's own). A listener
   * that throws or returns a rejected promise does not break the emitter: it is reported as
   * `listenerError` (and, for sync events, as `sync.error`), and the other listeners still run.
   * The sync loop awaits promises its listeners return before it saves its position.
   *
   * @param event The event name, e.g. `room.message` or `tokenChanged`.
   * @param fn The listener; its arguments are the event's tuple in the event map.
   * @param context `this` for the listener.
   * @throws Nothing: adding a listener cannot fail.
   * @example
   * session.on('room.message', (roomId, event) => console.log(roomId, event.sender, event.content.body));
   * session.on('tokenChanged', ({ accessToken, refreshToken }) => store.save({ accessToken, refreshToken }));
   */
  override on<K extends Events<E>>(event: K, fn: Listener<E, K>, context?: unknown): this {
    return super.on(event, fn, context);
  }
  /** The same as `on`. */
  override addListener<K extends Events<E>>(event: K, fn: Listener<E, K>, context?: unknown): this {
    return super.addListener(event, fn, context);
  }
  /** Like `on`, but the listener is removed after its first call. */
  override once<K extends Events<E>>(event: K, fn: Listener<E, K>, context?: unknown): this {
    return super.once(event, fn, context);
  }
  /**
   * Removes the listener `fn` of `event` (added with `on` or `once`), or every listener of
   * `event` when `fn` is omitted; `context` and `once` narrow which ones, as in eventemitter3.
   */
  override off<K extends Events<E>>(event: K, fn?: Listener<E, K>, context?: unknown, once?: boolean): this {
    return super.off(event, fn, context, once);
  }
  /** The same as `off`. */
  override removeListener<K extends Events<E>>(event: K, fn?: Listener<E, K>, context?: unknown, once?: boolean): this {
    return super.removeListener(event, fn, context, once);
  }

  /** Emits one of the session's own events (typed against SessionEvents, whatever E adds). */
  protected notify<K extends keyof SessionEvents>(event: K, ...args: SessionEvents[K]): void {
    (this.emit as unknown as (event: K, ...args: SessionEvents[K]) => boolean).call(this, event, ...args);
  }

  /** A listener threw: reported as `listenerError` (a throwing `listenerError` listener, as a process warning). */
  protected override onListenerError(event: PropertyKey, error: unknown): void {
    if (event === 'listenerError') return super.onListenerError(event, error);
    // Sync-event listeners are reported where sync code looks: `sync.error`. Not a failing
    // `sync.error` listener itself, which would report itself forever.
    if (typeof event === 'string' && event !== 'sync.error' && SYNC_EVENT_NAMES.has(event)) {
      return this.sync.reportListenerError(event, error);
    }
    this.notify('listenerError', { event: String(event), error });
  }

  /** What `JSON.stringify` shows of the session: `{ baseUrl, userId, deviceId, isLoggedIn }`, never a token. */
  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, userId: this.userId, deviceId: this.deviceId, isLoggedIn: this.isLoggedIn };
  }

  /** What `util.inspect` and `console.log` show: the class name and `toJSON()`, never a token. */
  [inspect.custom](_depth?: number, options?: InspectOptions): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), options)}`;
  }
}
