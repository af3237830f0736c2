import { ValidationError } from './errors';

/**
 * Builds a URL path from a template, percent-encoding every interpolated value as one
 * segment: `path\`/rooms/${roomId}/state/${type}/${key}\``. `/`, `?`, `#`, `%` and
 * non-ASCII inside an ID can therefore never change which endpoint is hit.
 */
export function path(strings: TemplateStringsArray, ...values: string[]): string {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    out += segment(values[i]) + strings[i + 1];
  }
  return out;
}

function segment(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new ValidationError('path segment', 'must be a non-empty string');
  }
  // WHATWG URL parsing (used by axios) collapses "." and ".." segments even when encoded
  // as %2E, so such a segment could never reach the server intact: refuse it instead.
  if (value === '.' || value === '..') {
    throw new ValidationError('path segment', 'must not be "." or ".."');
  }
  return encode('path segment', value);
}

/** encodeURIComponent, except that a lone UTF-16 surrogate (not encodable) is a ValidationError, not a URIError. */
function encode(name: string, value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new ValidationError(name, 'must be well-formed Unicode (no lone surrogates)');
  }
}

/**
 * A value of `RequestSpec.query`: a string, number or boolean (sent as its string form), a
 * string array (the key is repeated, `?via=a&via=b`) or undefined (the key is left out).
 */
export type QueryValue = string | number | boolean | readonly string[] | undefined;

/** `?a=1&via=x&via=y`: arrays repeat the key, as the Matrix spec wants; undefined is left out. */
export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  let out = '';
  for (const key in query) {
    const value = query[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value as string | number | boolean];
    for (const v of values) {
      out += (out ? '&' : '?') + encode('query parameter', key) + '=' + encode(`query parameter ${key}`, String(v));
    }
  }
  return out;
}
