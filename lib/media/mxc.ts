import { ValidationError } from '../core/errors';
import { check } from '../core/validate';

/** The two parts of an `mxc://serverName/mediaId` URI. */
export interface MxcParts {
  /** The homeserver that holds the media, e.g. `example.org` or `example.org:8448`. */
  serverName: string;
  /** The media ID on that server (`[A-Za-z0-9_-]+`). */
  mediaId: string;
}

/**
 * Splits an `mxc://` URI into its server name and media ID, after checking it against the
 * spec's grammar (a server name, one media ID of `[A-Za-z0-9_-]`, nothing else).
 *
 * @param name The parameter name a ValidationError reports.
 * @throws {ValidationError} when `uri` is not such a URI.
 * @example
 * parseMxc('mxc://example.org/abcDEF123'); // { serverName: 'example.org', mediaId: 'abcDEF123' }
 */
export function parseMxc(uri: unknown, name = 'mxc'): MxcParts {
  const value = check.mxcUri(name, uri);
  const rest = value.slice('mxc://'.length);
  const slash = rest.lastIndexOf('/');
  const serverName = rest.slice(0, slash);
  const mediaId = rest.slice(slash + 1);
  if (serverName === '' || mediaId === '') throw new ValidationError(name, 'must be an mxc:// URI like mxc://example.org/mediaId');
  return { serverName, mediaId };
}
