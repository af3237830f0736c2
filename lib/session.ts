import { inspect } from 'node:util';
import { SafeEmitter } from './core/emitter';
import { ValidationError } from './core/errors';
import { RequestCore, type CoreOptions } from './core/request';
import type { SessionEvents } from './events';
import { Account } from './resources/account';
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

/**
 * A stateful Matrix client: the homeserver's base URL and, once logged in, the access
 * token, user ID and device ID. Endpoints are grouped on `account`, `rooms`, `profile`,
 * `threepid`, `server` and `sync`; auth changes are emitted as typed events.
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

  constructor(options: SessionOptions) {
    super();
    if (typeof options?.baseUrl !== 'string' || !/^https?:\/\/[^/\s]+/.test(options.baseUrl)) {
      throw new ValidationError('baseUrl', 'must be an http:// or https:// URL');
    }
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
    // Groups see the session with its base event map, whatever a subclass adds to E.
    const self = this as unknown as MatrixSession;
    this.account = new Account(self, this.core);
    this.rooms = new Rooms(self, this.core);
    this.profile = new Profile(self, this.core);
    this.threepid = new Threepid(self, this.core);
    this.server = new Server(self, this.core);
    this.sync = new Sync(self, this.core);
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

  /** Adopts stored credentials (e.g. after a restart) and emits `tokenChanged`. */
  setCredentials(c: { accessToken: string; refreshToken?: string; userId?: string; deviceId?: string }): void {
    this.core.credentials.set(c);
    this.notify('tokenChanged', { accessToken: c.accessToken, refreshToken: c.refreshToken });
  }

  /** Aborts every request in flight and stops the sync loop; the session is unusable afterwards. */
  async close(): Promise<void> {
    this.core.close();
    await this.sync.stop();
  }

  /** Emits one of the session's own events (typed against SessionEvents, whatever E adds). */
  protected notify<K extends keyof SessionEvents>(event: K, ...args: SessionEvents[K]): void {
    (this.emit as unknown as (event: K, ...args: SessionEvents[K]) => boolean).call(this, event, ...args);
  }

  protected override onListenerError(event: PropertyKey, error: unknown): void {
    if (event === 'listenerError') return super.onListenerError(event, error);
    this.notify('listenerError', { event: String(event), error });
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, userId: this.userId, deviceId: this.deviceId, isLoggedIn: this.isLoggedIn };
  }

  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON())}`;
  }
}
