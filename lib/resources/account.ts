import { Auth, authSecrets, type AuthDict } from '../auth/builders';
import { checkUiaAuth, runUia, type UiaAuth } from '../auth/uia';
import { MatrixError, ValidationError } from '../core/errors';
import { path } from '../core/path';
import type { RequestOptions } from '../core/request';
import type { FieldRule } from '../core/response';
import { check } from '../core/validate';
import type { AuthInfo } from '../events';
import { Resource } from './resource';

/** The answer of GET /login (`account.loginFlows`). */
export interface LoginFlows {
  /** The login types the server accepts, in the order it lists them. */
  flows: Array<{
    /** The login type, sent as the `type` of a login body, e.g. `m.login.password` or `m.login.token`. */
    type: string;
    /** For `m.login.token`: whether the server offers POST /login/get_token (spec v1.7). */
    get_login_token?: boolean;
    [k: string]: unknown;
  }>;
}

/** What `account.login` (and `register`) take besides the auth body. */
export interface LoginOptions {
  /** Reuse a device (keeps its keys and history); the server makes one up otherwise. */
  deviceId?: string;
  /** The display name of a device the server creates; ignored when `deviceId` names an existing one. */
  initialDeviceDisplayName?: string;
  /** Ask for a refresh token; the session then renews its access token by itself. */
  refreshToken?: boolean;
}

/** The answer of POST /login (and of a guest registration), checked before the session adopts it. */
export interface LoginResponse {
  /** The account's full user ID. */
  user_id: string;
  /** The new access token (the session now sends it). */
  access_token: string;
  /** The device logged in: the one asked for, or a new one. */
  device_id: string;
  /** Present when a refresh token was asked for and the server issues them. */
  refresh_token?: string;
  /** The access token's lifetime in ms; absent when it does not expire. */
  expires_in_ms?: number;
  /** Client configuration the server suggests, in the form of `/.well-known/matrix/client`; not checked. */
  well_known?: Record<string, unknown>;
}

/** What `account.register` takes. */
export interface RegisterOptions extends LoginOptions {
  /** The desired localpart (`alice` for `@alice:server`); the server picks one when absent. */
  username?: string;
  /** The new account's password. */
  password?: string;
  /** How to answer user-interactive auth; by default only the m.login.dummy stage is answered. */
  auth?: UiaAuth;
  /** Create the account without logging this session in. */
  inhibitLogin?: boolean;
}

/** The answer of POST /register; the tokens and device are absent with `inhibitLogin`. */
export interface RegisterResponse {
  /** The new account's full user ID. */
  user_id: string;
  /** The new access token; absent with `inhibitLogin`. */
  access_token?: string;
  /** The new device; absent with `inhibitLogin`. */
  device_id?: string;
  /** Present when a refresh token was asked for and the server issues them. */
  refresh_token?: string;
  /** The access token's lifetime in ms; absent when it does not expire. */
  expires_in_ms?: number;
}

/** The answer of GET /account/whoami. */
export interface WhoAmI {
  /** The user the token belongs to. */
  user_id: string;
  /** The token's device; absent when it has none (an application service's token). */
  device_id?: string;
  /** True for a guest account; absent or false otherwise. */
  is_guest?: boolean;
}

/** What `account.deactivate` takes. */
export interface DeactivateOptions {
  /** How to answer user-interactive auth, usually `Auth.password(userId, password)`; without it the 401 challenge is thrown. */
  auth?: UiaAuth;
  /** The identity server to unbind the account's 3PIDs from; by default the one each was bound through. */
  idServer?: string;
  /** Ask the server to forget the account's messages too (GDPR erasure). */
  erase?: boolean;
}

/** What a deactivation or a 3PID removal says of the identity-server bindings. */
export interface IdServerUnbindResult {
  /**
   * `success`: every binding was removed from the identity server. `no-support`: at least one
   * could not be (the identity server refused, or the homeserver did not know which one).
   */
  id_server_unbind_result: 'success' | 'no-support';
}

/** What a login (or guest registration) must answer before the session adopts it. */
const LOGIN_FIELDS: Readonly<Record<string, FieldRule>> = {
  user_id: 'userId',
  access_token: 'token',
  device_id: 'deviceId',
  refresh_token: 'token?',
  expires_in_ms: 'int?',
};
/** A registration may come without a login (`inhibit_login`). */
const REGISTER_FIELDS: Readonly<Record<string, FieldRule>> = {
  ...LOGIN_FIELDS,
  access_token: 'token?',
  device_id: 'deviceId?',
};

function checkLoginOptions(o: LoginOptions): void {
  check.object('opts', o);
  check.optional(o.deviceId, (v) => check.string('deviceId', v, { max: 255 }));
  check.optional(o.initialDeviceDisplayName, (v) => check.string('initialDeviceDisplayName', v, { max: 255 }));
  check.optional(o.refreshToken, (v) => check.bool('refreshToken', v));
}

/** `session.account`: login, registration, logout, password, deactivation, token refresh and global account data. */
export class Account extends Resource {
  /** GET /login: the login types the server accepts. */
  loginFlows(options?: RequestOptions): Promise<LoginFlows> {
    return this.core.request({ method: 'GET', path: '/_matrix/client/v3/login', auth: 'none', required: ['flows'] }, options);
  }

  /**
   * POST /login with an `Auth` body (e.g. `Auth.password(user, pw)`); the session adopts the
   * new token, user ID and device ID, and emits `login`. Every field of the reply the session
   * takes is checked first. Not retried once it may have reached the server.
   *
   * @param auth A login body from `Auth.*`: `Auth.password`, `Auth.token`, `Auth.passwordByThreepid`, …
   * @param opts `deviceId` to reuse a device, `initialDeviceDisplayName`, `refreshToken: true`.
   * @throws {ValidationError} when `auth` has no `type`, or an option is invalid; nothing is sent.
   * @throws {MatrixError} e.g. 403 M_FORBIDDEN (wrong password), 429 M_LIMIT_EXCEEDED beyond the retries.
   * @throws {InvalidResponseError} when the reply lacks a valid `user_id`, `access_token` or `device_id`;
   *   the session keeps what it had.
   * @example
   * await session.account.login(Auth.password('alice', password), { refreshToken: true });
   * await session.account.login(Auth.token(loginToken), { initialDeviceDisplayName: 'laptop' });
   */
  async login(auth: AuthDict, opts: LoginOptions = {}, options?: RequestOptions): Promise<LoginResponse> {
    if (typeof auth !== 'object' || auth === null || typeof auth.type !== 'string') {
      throw new ValidationError('auth', 'must be an auth dictionary with a type, e.g. Auth.password(user, password)');
    }
    checkLoginOptions(opts);
    const res = await this.core.request<LoginResponse>(
      {
        method: 'POST',
        path: '/_matrix/client/v3/login',
        auth: 'none',
        body: {
          ...auth,
          device_id: opts.deviceId,
          initial_device_display_name: opts.initialDeviceDisplayName,
          refresh_token: opts.refreshToken,
        },
        fields: LOGIN_FIELDS,
        secrets: authSecrets(auth),
      },
      options,
    );
    this.#adopt(res);
    this.session.emit('login', authInfo(res));
    return res;
  }

  /** Shorthand for `login(Auth.password(user, password), opts)`. */
  async loginWithPassword(user: string, password: string, opts?: LoginOptions, options?: RequestOptions): Promise<LoginResponse> {
    return this.login(Auth.password(user, password), opts, options);
  }

  /** POST /logout: invalidates this session's token and forgets it. */
  async logout(options?: RequestOptions): Promise<void> {
    await this.core.request({ method: 'POST', path: '/_matrix/client/v3/logout', body: {} }, options);
    this.#forget(false);
  }

  /** POST /logout/all: invalidates every token of the user, this one included. */
  async logoutAll(options?: RequestOptions): Promise<void> {
    await this.core.request({ method: 'POST', path: '/_matrix/client/v3/logout/all', body: {} }, options);
    this.#forget(true);
  }

  /**
   * POST /register, running user-interactive auth with `opts.auth` (by default the dummy
   * stage only). Logs the session in unless `inhibitLogin`, and emits `register`.
   *
   * @param opts `username`, `password`, `auth` (see UiaAuth), `inhibitLogin`, and the login
   *   options `deviceId`, `initialDeviceDisplayName`, `refreshToken`.
   * @throws {ValidationError} on bad options; nothing is sent.
   * @throws {MatrixError} e.g. 400 M_USER_IN_USE or M_INVALID_USERNAME, 403 when registration
   *   is off, or the 401 challenge when no answer fits a stage (`isUserInteractiveAuth`).
   * @throws {InvalidResponseError} when the reply's `user_id`, tokens or device ID are malformed.
   * @example
   * await session.account.register({ username: 'alice', password });
   * // a server that asks for a registration token (Synapse: then the dummy stage)
   * const auth = { 'm.login.registration_token': Auth.registrationToken(token), 'm.login.dummy': Auth.dummy() };
   * await session.account.register({ username, password, auth });
   */
  async register(opts: RegisterOptions = {}, options?: RequestOptions): Promise<RegisterResponse> {
    checkLoginOptions(opts);
    check.optional(opts.username, (v) => check.string('username', v, { max: 255 }));
    check.optional(opts.password, (v) => check.string('password', v, { max: 4096, multiline: true }));
    check.optional(opts.inhibitLogin, (v) => check.bool('inhibitLogin', v));
    check.optional(opts.auth, (v) => checkUiaAuth('auth', v));
    const body = {
      username: opts.username,
      password: opts.password,
      device_id: opts.deviceId,
      initial_device_display_name: opts.initialDeviceDisplayName,
      inhibit_login: opts.inhibitLogin,
      refresh_token: opts.refreshToken,
    };
    const res = await runUia(
      (auth) =>
        this.core.request<RegisterResponse>(
          {
            method: 'POST',
            path: '/_matrix/client/v3/register',
            auth: 'none',
            body: { ...body, auth },
            fields: REGISTER_FIELDS,
            secrets: [opts.password, ...authSecrets(auth)],
          },
          options,
        ),
      opts.auth ?? Auth.dummy(),
    );
    if (res.access_token) this.#adopt(res as LoginResponse);
    this.session.emit('register', authInfo(res));
    return res;
  }

  /** POST /register?kind=guest: a guest account; the session is logged in as it. */
  async registerGuest(opts: { initialDeviceDisplayName?: string } = {}, options?: RequestOptions): Promise<LoginResponse> {
    check.object('opts', opts);
    check.optional(opts.initialDeviceDisplayName, (v) => check.string('initialDeviceDisplayName', v, { max: 255 }));
    const res = await this.core.request<LoginResponse>(
      {
        method: 'POST',
        path: '/_matrix/client/v3/register',
        query: { kind: 'guest' },
        auth: 'none',
        body: { initial_device_display_name: opts.initialDeviceDisplayName },
        fields: LOGIN_FIELDS,
      },
      options,
    );
    this.#adopt(res);
    this.session.emit('register', authInfo(res));
    return res;
  }

  /** GET /register/available: true when the name is free, false when taken; other refusals throw. */
  async isUsernameAvailable(username: string, options?: RequestOptions): Promise<boolean> {
    check.string('username', username, { max: 255 });
    try {
      const res = await this.core.request<{ available: boolean }>(
        { method: 'GET', path: '/_matrix/client/v3/register/available', query: { username }, auth: 'none', required: ['available'] },
        options,
      );
      return res.available === true;
    } catch (error) {
      if (error instanceof MatrixError && error.errcode === 'M_USER_IN_USE') return false;
      throw error;
    }
  }

  /**
   * GET /account/whoami: whom the token belongs to. A session resumed from a bare token
   * learns its user and device IDs from the answer; an answer whose `user_id` is not a user
   * ID (or whose `device_id` is not a string) is an InvalidResponseError and is not adopted.
   */
  async whoami(options?: RequestOptions): Promise<WhoAmI> {
    const res = await this.core.request<WhoAmI>(
      { method: 'GET', path: '/_matrix/client/v3/account/whoami', fields: { user_id: 'userId', device_id: 'deviceId?' } },
      options,
    );
    const held = this.core.credentials;
    if (held.accessToken && held.userId === undefined) {
      held.userId = res.user_id;
      held.deviceId ??= res.device_id;
    }
    return res;
  }

  /**
   * POST /account/password, with user-interactive auth (`Auth.password(...)` when logged
   * in, `Auth.emailIdentity(...)` for a reset by email). Other devices are logged out
   * unless `logoutDevices: false`.
   */
  async changePassword(
    newPassword: string,
    auth: UiaAuth,
    opts: { logoutDevices?: boolean } = {},
    options?: RequestOptions,
  ): Promise<void> {
    check.string('newPassword', newPassword, { max: 4096, multiline: true });
    checkUiaAuth('auth', auth);
    check.object('opts', opts);
    check.optional(opts.logoutDevices, (v) => check.bool('logoutDevices', v));
    const body = { new_password: newPassword, logout_devices: opts.logoutDevices };
    await runUia(
      (a) =>
        this.core.request(
          {
            method: 'POST',
            path: '/_matrix/client/v3/account/password',
            auth: 'optional',
            body: { ...body, auth: a },
            secrets: [newPassword, ...authSecrets(a)],
          },
          options,
        ),
      auth,
    );
  }

  /** POST /account/deactivate, with user-interactive auth. The session is logged out afterwards. */
  async deactivate(opts: DeactivateOptions = {}, options?: RequestOptions): Promise<IdServerUnbindResult> {
    check.object('opts', opts);
    check.optional(opts.auth, (v) => checkUiaAuth('auth', v));
    check.optional(opts.idServer, (v) => check.string('idServer', v, { max: 255 }));
    check.optional(opts.erase, (v) => check.bool('erase', v));
    const body = { id_server: opts.idServer, erase: opts.erase };
    const res = await runUia(
      (auth) =>
        this.core.request<IdServerUnbindResult>(
          {
            method: 'POST',
            path: '/_matrix/client/v3/account/deactivate',
            auth: 'optional',
            body: { ...body, auth },
            secrets: authSecrets(auth),
          },
          options,
        ),
      opts.auth ?? {},
    );
    this.#forget(true);
    return res;
  }

  /** POST /refresh: trades the refresh token for a new access token now (the core also does this on expiry). */
  refresh(options?: RequestOptions): Promise<void> {
    return this.core.refreshToken(options);
  }

  /** GET /user/{userId}/account_data/{type}. */
  async getAccountData<T = Record<string, unknown>>(type: string, options?: RequestOptions): Promise<T> {
    check.string('type', type, { max: 255 });
    return this.core.request({ method: 'GET', path: path`/_matrix/client/v3/user/${this.ownUserId}/account_data/${type}` }, options);
  }

  /** PUT /user/{userId}/account_data/{type}. */
  async setAccountData(type: string, content: Record<string, unknown>, options?: RequestOptions): Promise<void> {
    check.string('type', type, { max: 255 });
    check.object('content', content);
    await this.core.request(
      { method: 'PUT', path: path`/_matrix/client/v3/user/${this.ownUserId}/account_data/${type}`, body: content, idempotency: 'safe' },
      options,
    );
  }

  /** Takes the credentials of a reply the core has checked against LOGIN_FIELDS / REGISTER_FIELDS. */
  #adopt(res: LoginResponse): void {
    this.core.credentials.set({
      accessToken: res.access_token,
      refreshToken: res.refresh_token ?? undefined,
      userId: res.user_id,
      deviceId: res.device_id ?? undefined,
      expiresInMs: res.expires_in_ms ?? undefined,
    });
  }

  #forget(all: boolean): void {
    const userId = this.core.credentials.userId;
    this.core.credentials.clear();
    this.session.emit('logout', { userId, all });
  }
}

function authInfo(res: RegisterResponse): AuthInfo {
  return {
    userId: res.user_id,
    deviceId: res.device_id,
    accessToken: res.access_token,
    refreshToken: res.refresh_token,
    expiresInMs: res.expires_in_ms,
  };
}
