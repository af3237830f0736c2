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

export interface SessionOptions extends CoreOptions {
  /** Resume a session: the token and the IDs it belongs to. */
  accessToken?: string;
  refreshToken?: string;
  userId?: string;
  deviceId?: string;
}

/** Stored credentials, as `setCredentials` and the constructor take them. */
export interface StoredCredentials {
  accessToken: string;
  refreshToken?: string;
  userId?: string;
  deviceId?: string;
}

/** What an endpoint group's constructor takes: the session (with the base event map) and its core. */
export type GroupConstructor<G> = new (session: MatrixSession, core: RequestCore) => G;

type Events<E extends SessionEvents> = EventEmitter.EventNames<E>;
type Listener<E extends SessionEvents, K extends Events<E>> = EventEmitter.EventListener<E, K>;

function checkCredentials(c: Partial<StoredCredentials>): void {
  check.optional(c.accessToken, (v) => check.string('accessToken', v));
  check.optional(c.refreshToken, (v) => check.string('refreshToken', v));
  check.optional(c.userId, (v) => check.userId('userId', v));
  check.optional(c.deviceId, (v) => check.string('deviceId', v, { max: 255 }));
}

/**
 * A stateful Matrix client: the homeserver's base URL and, once logged in, the access
 * token, user ID and device ID. Endpoints are grouped on `account`, `rooms`, `profile`,
 * `threepid`, `server`, `sync` and `media`; auth changes are emitted as typed events.
 *
 * Subclassing: a subclass may replace a group with its own subclass of it,
 * `override readonly rooms = this.group(MyRooms)`, call `this.core.request(...)` for an
 * endpoint the SDK does not wrap, and add events of its own by widening the event map:
 * `class Bot extends MatrixSession<SessionEvents & { ready: [count: number] }>`.
 */
export class MatrixSession<E extends SessionEvents = SessionEvents> extends SafeEmitter<E> {
  /** The request pipeline. Subclasses call `this.core.request(...)` for endpoints we do not wrap. */
  protected readonly core: RequestCore;
  readonly account: Account;
  readonly rooms: Rooms;
  readonly profile: Profile;
  readonly threepid: Threepid;
  readonly server: Server;
  readonly sync: Sync;
  /** End-to-end encryption: `start({ storeDir })` before syncing; see docs/encryption.md. */
  readonly crypto: Crypto;
  /** The content repository: uploads, downloads, thumbnails, mxc:// helpers (docs/media.md). */
  readonly media: Media;

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

  get baseUrl(): string {
    return this.core.baseUrl;
  }
  get isLoggedIn(): boolean {
    return this.core.credentials.accessToken !== undefined;
  }
  get userId(): string | undefined {
    return this.core.credentials.userId;
  }
  get deviceId(): string | undefined {
    return this.core.credentials.deviceId;
  }

  /** The access token, for apps that store the session. Deliberately not a property. */
  getAccessToken(): string | undefined {
    return this.core.credentials.accessToken;
  }
  getRefreshToken(): string | undefined {
    return this.core.credentials.refreshToken;
  }

  /**
   * Adopts stored credentials (e.g. after a restart) and emits `tokenChanged`. Both tokens
   * are replaced; the user and device IDs only when given.
   */
  setCredentials(c: StoredCredentials): void {
    check.object('credentials', c);
    check.string('accessToken', c.accessToken);
    checkCredentials(c);
    this.core.credentials.set(c);
    this.notify('tokenChanged', { accessToken: c.accessToken, refreshToken: c.refreshToken });
  }

  /** Aborts every request in flight, stops the sync loop and encryption (releasing its store); the session is unusable afterwards. */
  async close(): Promise<void> {
    this.core.close();
    await this.sync.stop();
    await this.crypto.stop();
  }

  // SafeEmitter's overrides take `any`; these restore eventemitter3's typed signatures, so
  // listeners are checked against the event map E (a subclass's own events included).
  override on<K extends Events<E>>(event: K, fn: Listener<E, K>, context?: unknown): this {
    return super.on(event, fn, context);
  }
  override addListener<K extends Events<E>>(event: K, fn: Listener<E, K>, context?: unknown): this {
    return super.addListener(event, fn, context);
  }
  override once<K extends Events<E>>(event: K, fn: Listener<E, K>, context?: unknown): this {
    return super.once(event, fn, context);
  }
  override off<K extends Events<E>>(event: K, fn?: Listener<E, K>, context?: unknown, once?: boolean): this {
    return super.off(event, fn, context, once);
  }
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

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, userId: this.userId, deviceId: this.deviceId, isLoggedIn: this.isLoggedIn };
  }

  [inspect.custom](_depth?: number, options?: InspectOptions): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), options)}`;
  }
}
