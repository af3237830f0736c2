import { inspect } from 'node:util';

/**
 * What a logged-in session holds. Tokens live in private fields so that neither
 * `util.inspect`, `console.log` nor `JSON.stringify` of a session can print them.
 */
export class Credentials {
  #accessToken?: string;
  #refreshToken?: string;
  userId?: string;
  deviceId?: string;
  /** When the access token expires (ms since epoch), if the server said. */
  expiresAt?: number;

  get accessToken(): string | undefined {
    return this.#accessToken;
  }
  get refreshToken(): string | undefined {
    return this.#refreshToken;
  }

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

  clear(): void {
    this.#accessToken = undefined;
    this.#refreshToken = undefined;
    this.userId = undefined;
    this.deviceId = undefined;
    this.expiresAt = undefined;
  }

  toJSON(): Record<string, unknown> {
    return {
      userId: this.userId,
      deviceId: this.deviceId,
      accessToken: this.#accessToken ? '[redacted]' : undefined,
    };
  }

  [inspect.custom](): string {
    return `Credentials ${inspect(this.toJSON())}`;
  }
}
