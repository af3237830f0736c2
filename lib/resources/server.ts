import { check, isObject, parseBaseUrl } from '../core/validate';
import type { RequestOptions } from '../core/request';
import { AbortError, MatrixError, ValidationError } from '../core/errors';
import { Resource } from './resource';

/** The answer of GET /_matrix/client/versions, as the server sent it (not checked). */
export interface Versions {
  /** The spec versions supported, e.g. `v1.11` (`r0.6.1` for old ones). */
  versions: string[];
  /** Namespaced unstable features → whether they are enabled; unlisted ones are not supported. */
  unstable_features?: Record<string, boolean>;
}

/** The answer of GET /capabilities, as the server sent it (not checked); absent capabilities have the spec's defaults. */
export interface Capabilities {
  /** The capabilities by name; other (namespaced) ones may be present. */
  capabilities: Record<string, unknown> & {
    /** Whether the user may change their password. */
    'm.change_password'?: {
      /** True when it is allowed. */
      enabled: boolean;
    };
    /** The room versions the server supports. */
    'm.room_versions'?: {
      /** The version new rooms get by default. */
      default: string;
      /** Each supported version → its stability. */
      available: Record<string, 'stable' | 'unstable'>;
    };
    /** Whether the user may add and remove 3PIDs. */
    'm.3pid_changes'?: {
      /** True when it is allowed. */
      enabled: boolean;
    };
    /** Whether the user may make login tokens (POST /login/get_token). */
    'm.get_login_token'?: {
      /** True when it is allowed. */
      enabled: boolean;
    };
    /** Whether the user may change profile fields, and which (spec v1.16). */
    'm.profile_fields'?: {
      /** True when the user may set or delete profile fields. */
      enabled: boolean;
      /** If present, the only fields that may be changed. */
      allowed?: string[];
      /** If present (and `allowed` is not), fields that may not be changed. */
      disallowed?: string[];
    };
  };
}

/**
 * Outcome of client-server discovery, named as the spec names them: PROMPT (use the
 * base URL), IGNORE (no well-known; ask the user), FAIL_PROMPT and FAIL_ERROR.
 */
export interface Discovery {
  /** The outcome: PROMPT, IGNORE, FAIL_PROMPT or FAIL_ERROR, as described for Discovery. */
  state: 'PROMPT' | 'IGNORE' | 'FAIL_PROMPT' | 'FAIL_ERROR';
  /** The homeserver's base URL (no trailing slash): with PROMPT, and with the failures found after it was read. */
  baseUrl?: string;
  /** The identity server's base URL, when the well-known names one that is well-formed. */
  identityServerUrl?: string;
  /** The well-known document as fetched, once it was a JSON object. */
  wellKnown?: Record<string, unknown>;
  /** Why discovery did not succeed; absent with PROMPT. */
  reason?: string;
}

/** How long `supportsVersion` and `supportsFeature` trust the server's /versions (an upgrade shows within the hour). */
export const VERSIONS_CACHE_MS = 60 * 60 * 1000;

/** `session.server`: what the server supports (versions, features, capabilities), and client-server discovery. */
export class Server extends Resource {
  #versions?: { at: number; versions: string[]; features: Record<string, unknown> };

  /** GET /_matrix/client/versions: the spec versions the server supports (asked every time). */
  versions(options?: RequestOptions): Promise<Versions> {
    return this.core.request(
      { method: 'GET', path: '/_matrix/client/versions', auth: 'optional', required: ['versions'] },
      options,
    );
  }

  /**
   * Whether the server supports spec version `version` (`v1.11`) or a later `v1.x`, from
   * its /versions, which is asked once per session and hour (VERSIONS_CACHE_MS).
   *
   * @throws {ValidationError} when `version` is not like `v1.11`.
   * @example
   * if (await session.server.supportsVersion('v1.11')) { ... }
   */
  async supportsVersion(version: string, options?: RequestOptions): Promise<boolean> {
    const wanted = specVersion(version);
    if (!wanted) throw new ValidationError('version', 'must be a spec version like v1.11');
    const { versions } = await this.#known(options);
    return versions.some((v) => {
      const have = specVersion(v);
      return have !== undefined && (have[0] > wanted[0] || (have[0] === wanted[0] && have[1] >= wanted[1]));
    });
  }

  /** Whether /versions lists the unstable feature `name` as enabled (cached like `supportsVersion`). */
  async supportsFeature(name: string, options?: RequestOptions): Promise<boolean> {
    check.string('name', name, { max: 255 });
    const { features } = await this.#known(options);
    return Object.prototype.hasOwnProperty.call(features, name) && features[name] === true;
  }

  /** /versions, cached; what the server sent is taken only as far as it has the right shape. */
  async #known(options?: RequestOptions): Promise<{ versions: string[]; features: Record<string, unknown> }> {
    const cached = this.#versions;
    if (cached && Date.now() - cached.at < VERSIONS_CACHE_MS) return cached;
    const res = await this.versions(options);
    const versions = Array.isArray(res.versions) ? res.versions.filter((v): v is string => typeof v === 'string') : [];
    const raw = res.unstable_features;
    const features = isObject(raw) ? raw : {};
    this.#versions = { at: Date.now(), versions, features };
    return this.#versions;
  }

  /** GET /_matrix/client/v3/capabilities. */
  capabilities(options?: RequestOptions): Promise<Capabilities> {
    return this.core.request(
      { method: 'GET', path: '/_matrix/client/v3/capabilities', required: ['capabilities'] },
      options,
    );
  }

  /**
   * Client-server discovery (spec: Server discovery § Well-known URIs): fetches
   * `/.well-known/matrix/client` over https from the server name's hostname (the port is
   * for federation and is dropped; by default the logged-in user's server), then checks that
   * the advertised homeserver answers `/versions` (and an advertised identity server its
   * `/_matrix/identity/v2`). `serverName` may also be a full `http(s)://` origin.
   *
   * PROMPT: `baseUrl` is the homeserver to use. IGNORE: no well-known (404); ask the user.
   * FAIL_PROMPT: the well-known is unusable; FAIL_ERROR: it names something that is not a
   * working server. `reason` says why, in every state but PROMPT. Bad input and aborts
   * are thrown, not reported as a state.
   */
  async discover(serverName?: string, options?: RequestOptions): Promise<Discovery> {
    const origin = originFor(serverName ?? this.core.credentials.userId?.replace(/^@[^:]*:/, ''));
    let wellKnown: Record<string, unknown>;
    try {
      wellKnown = await this.core.request(
        { method: 'GET', path: '/.well-known/matrix/client', baseUrl: origin, auth: 'none', followRedirects: true },
        options,
      );
    } catch (error) {
      if (error instanceof AbortError || error instanceof ValidationError) throw error;
      const notFound = error instanceof MatrixError && error.httpStatus === 404;
      return { state: notFound ? 'IGNORE' : 'FAIL_PROMPT', reason: (error as Error).message };
    }
    if (Array.isArray(wellKnown)) return { state: 'FAIL_PROMPT', reason: 'the well-known is not a JSON object' };
    const homeserver = wellKnown['m.homeserver'] as { base_url?: unknown } | undefined;
    if (typeof homeserver?.base_url !== 'string') {
      return { state: 'FAIL_PROMPT', wellKnown, reason: 'm.homeserver.base_url is missing' };
    }
    const baseUrl = httpUrl(homeserver.base_url);
    if (!baseUrl) return { state: 'FAIL_ERROR', wellKnown, reason: 'm.homeserver.base_url is not an http(s) URL' };
    try {
      const versions = await this.core.request<Versions>(
        { method: 'GET', path: '/_matrix/client/versions', baseUrl, auth: 'none', required: ['versions'] },
        options,
      );
      if (!Array.isArray(versions.versions)) throw new Error('"versions" is not an array');
    } catch (error) {
      if (error instanceof AbortError || error instanceof ValidationError) throw error;
      return { state: 'FAIL_ERROR', baseUrl, wellKnown, reason: `the homeserver does not answer /versions: ${(error as Error).message}` };
    }

    const identity = wellKnown['m.identity_server'] as { base_url?: unknown } | undefined;
    if (identity === undefined) return { state: 'PROMPT', baseUrl, wellKnown };
    if (typeof identity?.base_url !== 'string') {
      return { state: 'FAIL_PROMPT', baseUrl, wellKnown, reason: 'm.identity_server.base_url is missing' };
    }
    const identityServerUrl = httpUrl(identity.base_url);
    if (!identityServerUrl) {
      return { state: 'FAIL_ERROR', baseUrl, wellKnown, reason: 'm.identity_server.base_url is not an http(s) URL' };
    }
    try {
      await this.core.request({ method: 'GET', path: '/_matrix/identity/v2', baseUrl: identityServerUrl, auth: 'none' }, options);
    } catch (error) {
      if (error instanceof AbortError || error instanceof ValidationError) throw error;
      return {
        state: 'FAIL_ERROR',
        baseUrl,
        identityServerUrl,
        wellKnown,
        reason: `the identity server does not answer /_matrix/identity/v2: ${(error as Error).message}`,
      };
    }
    return { state: 'PROMPT', baseUrl, identityServerUrl, wellKnown };
  }
}

/** An http(s) base URL without trailing slashes, or undefined (surrounding whitespace is forgiven here). */
function httpUrl(value: string): string | undefined {
  const parsed = parseBaseUrl(value.trim());
  return 'url' in parsed ? parsed.url : undefined;
}

function originFor(serverName: string | undefined): string {
  if (serverName === undefined) {
    throw new ValidationError('serverName', 'is needed when the session has no user ID');
  }
  if (typeof serverName === 'string' && /^https?:\/\//i.test(serverName)) {
    const url = httpUrl(serverName);
    if (!url || url !== new URL(url).origin) throw new ValidationError('serverName', 'must be a server name or an http(s):// origin without a path');
    return url;
  }
  // The well-known lives on the hostname alone: a port in the server name is for federation.
  const host = check.serverName('serverName', serverName).replace(/:\d+$/, '');
  return `https://${host}`;
}

/** `v1.11` as [1, 11]; undefined for anything else (`r0.6.1`, garbage). */
function specVersion(v: string): [number, number] | undefined {
  const m = typeof v === 'string' ? /^v(\d{1,4})\.(\d{1,4})$/.exec(v) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
