import { inspect } from 'node:util';

/**
 * What a logged-in session holds (`RequestCore.credentials`). Tokens live in private fields so
 * that neither `util.inspect`, `console.log` nor `JSON.stringify` of a session can print them.
 * The session and the account methods change it; apps use `setCredentials` instead.
 */
export class Credentials {
  #accessToken?: string;
  #refreshToken?: string;
  /** The logged-in user's ID, when known. */
  userId?: string;
  /** The session's device ID, when known. */
  deviceId?: string;
  /** When the access token expires (ms since epoch), if the server said. */
  expiresAt?: number;

  /** The access token sent as `Authorization: Bearer`, if one is held. */
  get accessToken(): string | undefined {
    return this.#accessToken;
  }
  /** The refresh token, if one is held. */
  get refreshToken(): string | undefined {
    return this.#refreshToken;
  }

  /**
   * Replaces both tokens (an absent one is dropped) and the expiry; the user and device IDs
   * change only when given.
   */
  set(c: { accessToken?: string; refreshToken?: string; userId?: string; deviceId?: string; expiresInMs?: number }): void {
    this.#accessToken = c.accessToken;
    this.#refreshToken = c.refreshToken;
    if (c.userId !== undefined) this.userId = c.userId;
    if (c.deviceId !== undefined) this.deviceId = c.deviceId;
    this.expiresAt = c.expiresInMs === undefined ? undefined : Date.now() + c.expiresInMs;
  }

  /** After a refresh: a new access token, and a new refresh token only if the server sent one. */
  rotate(accessToken: string, refreshToken: string | undefined, expiresInMs: number | undefined): void {
    this.#accessToken = accessToken;
    if (refreshToken !== undefined) this.#refreshToken = refreshToken;
    this.expiresAt = expiresInMs === undefined ? undefined : Date.now() + expiresInMs;
  }

  /** Forgets everything: both tokens, the IDs and the expiry (a logout). */
  clear(): void {
    this.#accessToken = undefined;
    this.#refreshToken = undefined;
    this.userId = undefined;
    this.deviceId = undefined;
    this.expiresAt = undefined;
  }

  /** The IDs, and `accessToken: '[redacted]'` when one is held: never a token. */
  toJSON(): Record<string, unknown> {
    return {
      userId: this.userId,
      deviceId: this.deviceId,
      accessToken: this.#accessToken ? '[redacted]' : undefined,
    };
  }

  /** What `util.inspect` shows: `toJSON()`, never a token. */
  [inspect.custom](): string {
    return `Credentials ${inspect(this.toJSON())}`;
  }
}
