import { Auth, authSecrets, type AuthDict } from '../auth/builders';
import { checkUiaAuth, runUia, type UiaAuth } from '../auth/uia';
import { MatrixError, ValidationError } from '../core/errors';
import { path } from '../core/path';
import type { RequestOptions } from '../core/request';
import type { FieldRule } from '../core/response';
import { check } from '../core/validate';
import type { AuthInfo } from '../events';
import { Resource } from './resource';

export interface LoginFlows {
  flows: Array<{ type: string; get_login_token?: boolean; [k: string]: unknown }>;
}

export interface LoginOptions {
  /** Reuse a device (keeps its keys and history); the server makes one up otherwise. */
  deviceId?: string;
  initialDeviceDisplayName?: string;
  /** Ask for a refresh token; the session then renews its access token by itself. */
  refreshToken?: boolean;
}

export interface LoginResponse {
  user_id: string;
  access_token: string;
  device_id: string;
  refresh_token?: string;
  expires_in_ms?: number;
  well_known?: Record<string, unknown>;
}

export interface RegisterOptions extends LoginOptions {
  username?: string;
  password?: string;
  /** How to answer user-interactive auth; by default only the m.login.dummy stage is answered. */
  auth?: UiaAuth;
  /** Create the account without logging this session in. */
  inhibitLogin?: boolean;
}

export interface RegisterResponse {
  user_id: string;
  access_token?: string;
  device_id?: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

export interface WhoAmI {
  user_id: string;
  device_id?: string;
  is_guest?: boolean;
}

export interface DeactivateOptions {
  auth?: UiaAuth;
  idServer?: string;
  /** Ask the server to forget the account's messages too (GDPR erasure). */
  erase?: boolean;
}

export interface IdServerUnbindResult {
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

export class Account extends Resource {
  /** GET /login: the login types the server accepts. */
  loginFlows(options?: RequestOptions): Promise<LoginFlows> {
    return this.core.request({ method: 'GET', path: '/_matrix/client/v3/login', auth: 'none', required: ['flows'] }, options);
  }

  /** POST /login with an `Auth` body (e.g. `Auth.password(user, pw)`); the session is logged in afterwards. */
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
   * stage only). Logs the session in unless `inhibitLogin`.
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
