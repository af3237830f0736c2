import { randomBytes } from 'node:crypto';
import { authSecrets } from '../auth/builders';
import { checkUiaAuth, runUia, type UiaAuth } from '../auth/uia';
import { ValidationError } from '../core/errors';
import type { RequestOptions } from '../core/request';
import { check } from '../core/validate';
import type { IdServerUnbindResult } from './account';
import { Resource } from './resource';

/** The kinds of third-party identifier: an email address or a phone number (msisdn). */
export type ThreepidMedium = 'email' | 'msisdn';

/** One entry of GET /account/3pid: a 3PID the homeserver holds for the user (not an identity-server binding). */
export interface ThirdPartyIdentifier {
  /** `email` or `msisdn`. */
  medium: ThreepidMedium;
  /** The email address or phone number, as the homeserver stored it. */
  address: string;
  /** When the identifier was validated, ms since the epoch. */
  validated_at: number;
  /** When the homeserver associated it with the user, ms since the epoch. */
  added_at: number;
}

/** The answer of every requestToken endpoint. */
export interface RequestTokenResponse {
  /** The validation session, for `threepid.add`, `Auth.emailIdentity` or `Auth.msisdn`. */
  sid: string;
  /** Where the user's token must be POSTed; absent when the server's link validates by itself. */
  submit_url?: string;
}

/** What the requestToken calls take besides the address. */
export interface RequestTokenOptions {
  /** Where the validation link redirects once the address is confirmed. */
  nextLink?: string;
}

/** What `threepid.delete` and `threepid.unbind` take. */
export interface IdServerOptions {
  /** The identity server the identifier was bound through; the homeserver uses the one it recorded otherwise. */
  idServer?: string;
}

/**
 * A fresh client secret for a requestToken call: 32 random characters of `[A-Za-z0-9_-]`.
 * Keep it with the `sid` until the validation is used; never put it in a URL or a log.
 */
export function generateClientSecret(): string {
  return randomBytes(24).toString('base64url');
}

type Purpose = 'register' | 'account/3pid' | 'account/password';
type Target = { email: string } | { country: string; phone: string };

const PHONE = /^\+?[0-9][0-9 ().-]{0,31}$/;
const MEDIA = ['email', 'msisdn'] as const;

function checkNextLink(v: unknown): void {
  check.string('nextLink', v, { max: 2048 });
  let url: URL | undefined;
  try {
    url = new URL(v as string);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:') {
    throw new ValidationError('nextLink', 'must be an http:// or https:// URL');
  }
}

/** `session.threepid`: third-party identifiers (email, phone): validation, adding to the account, removal, identity-server binding. */
export class Threepid extends Resource {
  /** The same as the module's `generateClientSecret()`. */
  static generateClientSecret = generateClientSecret;

  /** GET /account/3pid: the 3PIDs the homeserver holds for the logged-in user. */
  async list(options?: RequestOptions): Promise<ThirdPartyIdentifier[]> {
    const res = await this.core.request<{ threepids?: ThirdPartyIdentifier[] }>(
      { method: 'GET', path: '/_matrix/client/v3/account/3pid' },
      options,
    );
    return res.threepids ?? [];
  }

  /**
   * POST /account/3pid/add: attaches an address validated through `requestAccountEmailToken`
   * (or the msisdn one) to the account. Needs user-interactive auth, e.g.
   * `Auth.password(userId, password)`; without `auth` the server's 401 MatrixError is thrown.
   */
  async add(clientSecret: string, sid: string, auth?: UiaAuth, options?: RequestOptions): Promise<void> {
    check.clientSecret('clientSecret', clientSecret);
    check.clientSecret('sid', sid);
    check.optional(auth, (v) => checkUiaAuth('auth', v));
    const body = { client_secret: clientSecret, sid };
    await runUia(
      (a) =>
        this.core.request(
          { method: 'POST', path: '/_matrix/client/v3/account/3pid/add', body: { ...body, auth: a }, secrets: authSecrets(a) },
          options,
        ),
      auth ?? {},
    );
  }

  /**
   * POST /account/3pid/bind: publishes a 3PID on an identity server, through the
   * homeserver. `clientSecret` and `sid` come from a validation session with that
   * identity server; `idAccessToken` from its own registration.
   */
  async bind(clientSecret: string, idServer: string, idAccessToken: string, sid: string, options?: RequestOptions): Promise<void> {
    check.clientSecret('clientSecret', clientSecret);
    check.serverName('idServer', idServer);
    check.string('idAccessToken', idAccessToken, { max: 4096 });
    check.clientSecret('sid', sid);
    await this.core.request(
      {
        method: 'POST',
        path: '/_matrix/client/v3/account/3pid/bind',
        body: { client_secret: clientSecret, id_server: idServer, id_access_token: idAccessToken, sid },
        secrets: [idAccessToken],
      },
      options,
    );
  }

  /** POST /account/3pid/delete: removes a 3PID from the account (and unbinds it from the identity server, if any). */
  async delete(medium: ThreepidMedium, address: string, opts: IdServerOptions = {}, options?: RequestOptions): Promise<IdServerUnbindResult> {
    return this.#removal('delete', medium, address, opts, options);
  }

  /** POST /account/3pid/unbind: removes the identity-server binding only; the homeserver keeps the 3PID. */
  async unbind(medium: ThreepidMedium, address: string, opts: IdServerOptions = {}, options?: RequestOptions): Promise<IdServerUnbindResult> {
    return this.#removal('unbind', medium, address, opts, options);
  }

  /** POST /account/3pid/email/requestToken: mails a link that validates an address to add to the account. */
  async requestAccountEmailToken(
    clientSecret: string,
    email: string,
    sendAttempt: number,
    opts?: RequestTokenOptions,
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    return this.#requestToken('account/3pid', clientSecret, { email }, sendAttempt, opts, options);
  }

  /** POST /account/3pid/msisdn/requestToken: texts a code that validates a phone number to add to the account. */
  async requestAccountMsisdnToken(
    clientSecret: string,
    country: string,
    phone: string,
    sendAttempt: number,
    opts?: RequestTokenOptions,
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    return this.#requestToken('account/3pid', clientSecret, { country, phone }, sendAttempt, opts, options);
  }

  /** POST /register/email/requestToken: for the `m.login.email.identity` stage of registration. */
  async requestRegistrationEmailToken(
    clientSecret: string,
    email: string,
    sendAttempt: number,
    opts?: RequestTokenOptions,
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    return this.#requestToken('register', clientSecret, { email }, sendAttempt, opts, options);
  }

  /** POST /register/msisdn/requestToken: for the `m.login.msisdn` stage of registration. */
  async requestRegistrationMsisdnToken(
    clientSecret: string,
    country: string,
    phone: string,
    sendAttempt: number,
    opts?: RequestTokenOptions,
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    return this.#requestToken('register', clientSecret, { country, phone }, sendAttempt, opts, options);
  }

  /** POST /account/password/email/requestToken: starts a password reset by email (then `account.changePassword` with `Auth.emailIdentity`). */
  async requestPasswordEmailToken(
    clientSecret: string,
    email: string,
    sendAttempt: number,
    opts?: RequestTokenOptions,
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    return this.#requestToken('account/password', clientSecret, { email }, sendAttempt, opts, options);
  }

  /** POST /account/password/msisdn/requestToken: starts a password reset by phone number. */
  async requestPasswordMsisdnToken(
    clientSecret: string,
    country: string,
    phone: string,
    sendAttempt: number,
    opts?: RequestTokenOptions,
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    return this.#requestToken('account/password', clientSecret, { country, phone }, sendAttempt, opts, options);
  }

  /**
   * The six requestToken calls. No access token is sent. The server sends nothing new for
   * a `sendAttempt` it has already seen with this secret and address, so a repeat is safe.
   */
  #requestToken(
    purpose: Purpose,
    clientSecret: string,
    target: Target,
    sendAttempt: number,
    opts: RequestTokenOptions = {},
    options?: RequestOptions,
  ): Promise<RequestTokenResponse> {
    check.clientSecret('clientSecret', clientSecret);
    let medium: ThreepidMedium;
    let address: Record<string, string>;
    if ('email' in target) {
      medium = 'email';
      address = { email: check.email('email', target.email) };
    } else {
      medium = 'msisdn';
      check.country('country', target.country);
      if (typeof target.phone !== 'string' || !PHONE.test(target.phone)) {
        throw new ValidationError('phone', 'must be a phone number: digits, optionally with +, spaces, dots, dashes or parentheses');
      }
      address = { country: target.country, phone_number: target.phone };
    }
    check.int('sendAttempt', sendAttempt, { min: 1 });
    check.object('opts', opts);
    check.optional(opts.nextLink, checkNextLink);
    return this.core.request(
      {
        method: 'POST',
        path: `/_matrix/client/v3/${purpose}/${medium}/requestToken`,
        auth: 'none',
        body: { client_secret: clientSecret, ...address, send_attempt: sendAttempt, next_link: opts.nextLink },
        idempotency: 'safe',
        required: ['sid'],
      },
      options,
    );
  }

  #removal(
    action: 'delete' | 'unbind',
    medium: ThreepidMedium,
    address: string,
    opts: IdServerOptions,
    options?: RequestOptions,
  ): Promise<IdServerUnbindResult> {
    check.oneOf('medium', medium, MEDIA);
    check.string('address', address, { max: 320 });
    check.object('opts', opts);
    check.optional(opts.idServer, (v) => check.serverName('idServer', v));
    return this.core.request(
      {
        method: 'POST',
        path: `/_matrix/client/v3/account/3pid/${action}`,
        body: { medium, address, id_server: opts.idServer },
        required: ['id_server_unbind_result'],
      },
      options,
    );
  }
}
