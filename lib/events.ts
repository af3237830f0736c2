import type { MatrixError } from './core/errors';
import type { SyncEvents } from './sync/types';

/** What login and register report: the new credentials, for apps that persist them. */
export interface AuthInfo {
  userId: string;
  deviceId?: string;
  accessToken?: string;
  refreshToken?: string;
  expiresInMs?: number;
}

/**
 * The session's typed events (eventemitter3). Subclasses can add their own by passing an
 * extended map: `class Bot extends MatrixSession<SessionEvents & { ready: [] }>`.
 * The sync loop's events (`sync`, `sync.error`, `room.message`, …) are listed in SyncEvents.
 */
export interface SessionEvents extends SyncEvents {
  login: [info: AuthInfo];
  register: [info: AuthInfo];
  logout: [info: { userId?: string; all: boolean }];
  tokenChanged: [info: { accessToken: string; refreshToken?: string; expiresInMs?: number }];
  /** The server refused the token (401 M_UNKNOWN_TOKEN) and it could not be refreshed. */
  sessionExpired: [info: { softLogout: boolean; error: MatrixError }];
  /** A 429 was answered by waiting `delayMs` before retry number `attempt`. */
  rateLimited: [info: { method: string; path: string; delayMs: number; attempt: number }];
  /** A listener of another event threw or rejected; the emitter carried on. */
  listenerError: [info: { event: string; error: unknown }];
}
