import type { MatrixError } from './core/errors';
import type { SyncEvents } from './sync/types';

/** What login and register report: the new credentials, for apps that persist them. */
export interface AuthInfo {
  /** The account's user ID. */
  userId: string;
  /** The device logged in; absent for a registration with `inhibitLogin`. */
  deviceId?: string;
  /** The new access token; absent for a registration with `inhibitLogin`. */
  accessToken?: string;
  /** The refresh token, when one was asked for (`refreshToken: true`) and the server issued one. */
  refreshToken?: string;
  /** How long the access token is valid, in ms from the reply; absent when it does not expire. */
  expiresInMs?: number;
}

/**
 * The session's typed events (eventemitter3). Subclasses can add their own by passing an
 * extended map: `class Bot extends MatrixSession<SessionEvents & { ready: [] }>`.
 * The sync loop's events (`sync`, `sync.error`, `room.message`, …) are listed in SyncEvents.
 */
export interface SessionEvents extends SyncEvents {
  /** `account.login` or `loginWithPassword` succeeded; the session now holds these credentials. */
  login: [info: AuthInfo];
  /** `account.register` or `registerGuest` succeeded (also with `inhibitLogin`, then without tokens). */
  register: [info: AuthInfo];
  /** `logout` (`all: false`), `logoutAll` or `deactivate` (`all: true`) succeeded; the credentials are cleared. */
  logout: [
    info: {
      /** The user who was logged out, if the session knew it. */
      userId?: string;
      /** True when every token of the user was invalidated (`logoutAll`, `deactivate`). */
      all: boolean;
    },
  ];
  /** The access token changed: refreshed (by the core or `account.refresh()`), or set with `setCredentials`. */
  tokenChanged: [
    info: {
      /** The access token now held. */
      accessToken: string;
      /**
       * The refresh token now held. After a refresh, absent when the server sent no new one
       * (the old one is kept); after `setCredentials`, the one given.
       */
      refreshToken?: string;
      /** After a refresh: how long the new token is valid, in ms, when the server said. */
      expiresInMs?: number;
    },
  ];
  /**
   * The server refused the token (401 M_UNKNOWN_TOKEN) and it could not be refreshed, or the
   * refresh itself was refused. The tokens are dropped; the user and device IDs are kept, to
   * log in again on the same device. Emitted once however many requests were in flight.
   */
  sessionExpired: [
    info: {
      /** The server's `soft_logout` flag: the device and its keys still exist, a new login may reuse them. */
      softLogout: boolean;
      /** The server's 401 reply. */
      error: MatrixError;
    },
  ];
  /** A 429 is being waited out: `delayMs` before retry number `attempt`. The sync loop emits it for its own 429s too. */
  rateLimited: [
    info: {
      /** The HTTP method of the request. */
      method: string;
      /** The request's (encoded) path, without the query. */
      path: string;
      /** How long the SDK waits before the retry, in ms. */
      delayMs: number;
      /** The number of the retry about to be made, from 1. */
      attempt: number;
    },
  ];
  /**
   * A listener of another event threw or rejected; the emitter carried on. Failures of sync
   * event listeners go to `sync.error` (source `listener`) instead, except those of
   * `sync.error` itself.
   */
  listenerError: [
    info: {
      /** The event whose listener failed. */
      event: string;
      /** What it threw, or the reason its promise rejected. */
      error: unknown;
    },
  ];
}
