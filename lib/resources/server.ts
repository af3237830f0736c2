import { check } from '../core/validate';
import type { RequestOptions } from '../core/request';
import { MatrixSessionError } from '../core/errors';
import { Resource } from './resource';

export interface Versions {
  versions: string[];
  unstable_features?: Record<string, boolean>;
}

export interface Capabilities {
  capabilities: Record<string, unknown> & {
    'm.change_password'?: { enabled: boolean };
    'm.room_versions'?: { default: string; available: Record<string, 'stable' | 'unstable'> };
    'm.3pid_changes'?: { enabled: boolean };
    'm.get_login_token'?: { enabled: boolean };
    'm.profile_fields'?: { enabled: boolean; allowed?: string[]; disallowed?: string[] };
  };
}

/**
 * Outcome of client-server discovery, named as the spec names them: PROMPT (use the
 * base URL), IGNORE (no well-known; ask the user), FAIL_PROMPT and FAIL_ERROR.
 */
export interface Discovery {
  state: 'PROMPT' | 'IGNORE' | 'FAIL_PROMPT' | 'FAIL_ERROR';
  baseUrl?: string;
  identityServerUrl?: string;
  wellKnown?: Record<string, unknown>;
  reason?: string;
}

export class Server extends Resource {
  /** GET /_matrix/client/versions: the spec versions the server supports. */
  versions(options?: RequestOptions): Promise<Versions> {
    return this.core.request(
      { method: 'GET', path: '/_matrix/client/versions', auth: 'optional', required: ['versions'] },
      options,
    );
  }

  /** GET /_matrix/client/v3/capabilities. */
  capabilities(options?: RequestOptions): Promise<Capabilities> {
    return this.core.request(
      { method: 'GET', path: '/_matrix/client/v3/capabilities', required: ['capabilities'] },
      options,
    );
  }

  /**
   * Client-server discovery: fetches `/.well-known/matrix/client` from the server name's
   * host (by default the logged-in user's server), then checks the advertised base URL
   * answers `/versions`. `serverName` may also be a full `http(s)://` origin.
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
      const notFound = (error as { httpStatus?: number }).httpStatus === 404;
      return { state: notFound ? 'IGNORE' : 'FAIL_PROMPT', reason: (error as Error).message };
    }
    const homeserver = wellKnown['m.homeserver'] as { base_url?: unknown } | undefined;
    if (typeof homeserver?.base_url !== 'string') {
      return { state: 'FAIL_PROMPT', wellKnown, reason: 'm.homeserver.base_url is missing' };
    }
    const baseUrl = homeserver.base_url.replace(/\/+$/, '');
    if (!/^https?:\/\/[^/\s]+/.test(baseUrl)) {
      return { state: 'FAIL_ERROR', wellKnown, reason: 'm.homeserver.base_url is not a URL' };
    }
    try {
      await this.core.request({ method: 'GET', path: '/_matrix/client/versions', baseUrl, auth: 'none', required: ['versions'] }, options);
    } catch (error) {
      return { state: 'FAIL_ERROR', baseUrl, wellKnown, reason: `the homeserver does not answer /versions: ${(error as Error).message}` };
    }
    const identity = wellKnown['m.identity_server'] as { base_url?: unknown } | undefined;
    const identityServerUrl = typeof identity?.base_url === 'string' ? identity.base_url.replace(/\/+$/, '') : undefined;
    return { state: 'PROMPT', baseUrl, identityServerUrl, wellKnown };
  }
}

function originFor(serverName: string | undefined): string {
  if (serverName === undefined) {
    throw new MatrixSessionError('discover() needs a server name when the session has no user ID');
  }
  if (/^https?:\/\//.test(serverName)) return serverName.replace(/\/+$/, '');
  // The well-known lives on the hostname alone: a port in the server name is for federation.
  const host = check.serverName('serverName', serverName).replace(/:\d+$/, '');
  return `https://${host}`;
}
