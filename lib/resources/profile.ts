import { MatrixError, ValidationError } from '../core/errors';
import { path } from '../core/path';
import type { RequestOptions } from '../core/request';
import { check } from '../core/validate';
import { Resource } from './resource';

/** GET /profile/{userId}: every field is optional; since 1.16 custom fields may follow. */
export interface UserProfile {
  /** The user's display name, if set. */
  displayname?: string;
  /** The user's avatar (mxc:// URI), if set. */
  avatar_url?: string;
  /** The user's time zone, an IANA name such as `Europe/Paris` (not checked: may be invalid), if set (spec v1.16). */
  'm.tz'?: string;
  [field: string]: unknown;
}

/** One user found by `profile.searchUsers`. */
export interface UserDirectoryResult {
  /** The user's ID. */
  user_id: string;
  /** Absent or null (Synapse sends null) when the user has none. */
  display_name?: string | null;
  /** The user's avatar (mxc:// URI); absent or null when none. */
  avatar_url?: string | null;
}

/** The answer of POST /user_directory/search. */
export interface UserDirectorySearch {
  /** Ordered by rank, then by whether profile info is available. */
  results: UserDirectoryResult[];
  /** True when the list was cut at `limit`. */
  limited: boolean;
}

/** What `profile.searchUsers` takes besides the term. */
export interface SearchUsersOptions {
  /** The most results to return; the server's default is 10. */
  limit?: number;
  /** Sent as the `Accept-Language` header: the collation the server should search with, e.g. `de-DE`. */
  language?: string;
}

/** `avatar_url`, `displayname`, `m.tz`, or a namespaced custom key like `org.example.field` (spec 1.16). */
const PROFILE_KEY = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
// An Accept-Language value: language ranges with optional q-weights, comma-separated.
const LANGUAGE_RANGE = String.raw`(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)(?:\s*;\s*q=[01](?:\.\d{0,3})?)?`;
const ACCEPT_LANGUAGE = new RegExp(`^${LANGUAGE_RANGE}(?:\\s*,\\s*${LANGUAGE_RANGE})*$`);

function checkKey(name: string, v: unknown): string {
  if (typeof v !== 'string' || !PROFILE_KEY.test(v) || Buffer.byteLength(v) > 255) {
    throw new ValidationError(name, 'must be avatar_url, displayname, m.tz or a namespaced key like org.example.field');
  }
  return v;
}

/** The value rules the spec gives for the defined keys; custom keys take any JSON value. */
function checkValue(key: string, v: unknown): unknown {
  if (key === 'avatar_url') return check.mxcUri('avatarUrl', v);
  // An empty display name clears it on Synapse, so it is allowed.
  if (key === 'displayname') return check.string('displayName', v, { allowEmpty: true });
  if (key === 'm.tz') return check.string('timeZone', v, { max: 255 });
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
    throw new ValidationError('value', 'must be a JSON value');
  }
  return v;
}

/** `session.profile`: users' profiles (display name, avatar, custom fields) and the user directory. */
export class Profile extends Resource {
  /** GET /profile/{userId}: the whole public profile. Sends the token when held (some servers require it). */
  async get(userId: string, options?: RequestOptions): Promise<UserProfile> {
    check.userId('userId', userId);
    return this.core.request({ method: 'GET', path: path`/_matrix/client/v3/profile/${userId}`, auth: 'optional' }, options);
  }

  /** GET /profile/{userId}/displayname: undefined when none is set (or, as the spec allows, the user is unknown). */
  async getDisplayName(userId: string, options?: RequestOptions): Promise<string | undefined> {
    const value = await this.getField(userId, 'displayname', options);
    return typeof value === 'string' ? value : undefined;
  }

  /**
   * PUT /profile/{userId}/displayname: sets the session user's display name (an empty name
   * clears it). The user ID may still be given first, as in earlier versions; only one's own
   * profile can be changed.
   *
   * @example
   * await session.profile.setDisplayName('Echo bot');
   */
  async setDisplayName(displayName: string, options?: RequestOptions): Promise<void>;
  async setDisplayName(userId: string, displayName: string, options?: RequestOptions): Promise<void>;
  async setDisplayName(a: string, b?: string | RequestOptions, c?: RequestOptions): Promise<void> {
    const [userId, value, options] = this.#own(a, b, c);
    return this.setField(userId, 'displayname', value, options);
  }

  /** GET /profile/{userId}/avatar_url: the mxc:// URI, or undefined when none is set. */
  async getAvatarUrl(userId: string, options?: RequestOptions): Promise<string | undefined> {
    const value = await this.getField(userId, 'avatar_url', options);
    return typeof value === 'string' ? value : undefined;
  }

  /**
   * PUT /profile/{userId}/avatar_url: sets the session user's avatar to an mxc:// URI (remove
   * it with `deleteField(userId, 'avatar_url')`). The user ID may still be given first.
   *
   * @example
   * await session.profile.setAvatarUrl('mxc://example.org/abc123');
   */
  async setAvatarUrl(mxcUrl: string, options?: RequestOptions): Promise<void>;
  async setAvatarUrl(userId: string, mxcUrl: string, options?: RequestOptions): Promise<void>;
  async setAvatarUrl(a: string, b?: string | RequestOptions, c?: RequestOptions): Promise<void> {
    const [userId, value, options] = this.#own(a, b, c);
    return this.setField(userId, 'avatar_url', value, options);
  }

  /**
   * GET /profile/{userId}/{keyName} (generic since spec 1.16): the field's value, or
   * undefined when it is not set. The spec answers 404 both for an unset field and an
   * unknown user, so both read as undefined; other errors throw.
   */
  async getField(userId: string, key: string, options?: RequestOptions): Promise<unknown> {
    check.userId('userId', userId);
    checkKey('key', key);
    try {
      const res = await this.core.request<Record<string, unknown>>(
        { method: 'GET', path: path`/_matrix/client/v3/profile/${userId}/${key}`, auth: 'optional' },
        options,
      );
      return res[key];
    } catch (error) {
      // M_UNRECOGNIZED (an older server without generic fields) is not "unset": it throws.
      if (error instanceof MatrixError && error.httpStatus === 404 && error.errcode !== 'M_UNRECOGNIZED') return undefined;
      throw error;
    }
  }

  /** PUT /profile/{userId}/{keyName}: sets one field (the defined keys are checked: mxc URI, string). */
  async setField(userId: string, key: string, value: unknown, options?: RequestOptions): Promise<void> {
    check.userId('userId', userId);
    checkKey('key', key);
    checkValue(key, value);
    await this.core.request(
      { method: 'PUT', path: path`/_matrix/client/v3/profile/${userId}/${key}`, body: { [key]: value }, idempotency: 'safe' },
      options,
    );
  }

  /** DELETE /profile/{userId}/{keyName} (spec 1.16): removes the field; removing an absent one succeeds. */
  async deleteField(userId: string, key: string, options?: RequestOptions): Promise<void> {
    check.userId('userId', userId);
    checkKey('key', key);
    await this.core.request(
      { method: 'DELETE', path: path`/_matrix/client/v3/profile/${userId}/${key}`, idempotency: 'safe' },
      options,
    );
  }

  /**
   * The arguments of a setter called as `(value, options?)` or `(userId, value, options?)`: a
   * second argument that is not an options object (or absent) is the value.
   */
  #own(a: string, b: string | RequestOptions | undefined, c: RequestOptions | undefined): [string, string, RequestOptions | undefined] {
    if (b === undefined || (typeof b === 'object' && b !== null)) return [this.ownUserId, a, b as RequestOptions | undefined];
    return [a, b as string, c];
  }

  /**
   * POST /user_directory/search: users matching `term` by user ID or display name.
   * Which users are searched is the server's choice (Synapse by default: those sharing a
   * room with the caller or in public rooms). A read, so it is retried like a GET.
   */
  async searchUsers(term: string, opts: SearchUsersOptions = {}, options?: RequestOptions): Promise<UserDirectorySearch> {
    check.string('term', term, { max: 1024 });
    check.object('opts', opts);
    check.optional(opts.limit, (v) => check.int('limit', v, { min: 1, max: 1000 }));
    check.optional(opts.language, (v) => {
      if (typeof v !== 'string' || v.length > 255 || !ACCEPT_LANGUAGE.test(v)) {
        throw new ValidationError('language', 'must be an Accept-Language value like "en" or "de-DE, en;q=0.5"');
      }
    });
    return this.core.request(
      {
        method: 'POST',
        path: '/_matrix/client/v3/user_directory/search',
        body: { search_term: term, limit: opts.limit },
        headers: opts.language === undefined ? undefined : { 'Accept-Language': opts.language },
        idempotency: 'safe',
        required: ['results', 'limited'],
      },
      options,
    );
  }
}
