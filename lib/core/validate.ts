/* eslint-disable @typescript-eslint/no-require-imports */
import type * as CV from 'class-validator';
import { ValidationError } from './errors';

// class-validator's index pulls in every validator (~150 ms of cold start); its per-rule
// modules load in ~15 ms together, so we take only the rules we use.
const { matches } = require('class-validator/cjs/decorator/string/Matches') as Pick<typeof CV, 'matches'>;
const { isInt } = require('class-validator/cjs/decorator/typechecker/IsInt') as Pick<typeof CV, 'isInt'>;
const { isIn } = require('class-validator/cjs/decorator/common/IsIn') as Pick<typeof CV, 'isIn'>;
const { isEmail } = require('class-validator/cjs/decorator/string/IsEmail') as Pick<typeof CV, 'isEmail'>;
const { isISO31661Alpha2 } = require('class-validator/cjs/decorator/string/IsISO31661Alpha2') as Pick<
  typeof CV,
  'isISO31661Alpha2'
>;

// Server names: a DNS name or IPv4 address, or an [IPv6] literal, with an optional port.
const SERVER = String.raw`(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?`;
// Opaque parts of IDs: anything printable but ':' and whitespace.
const OPAQUE = String.raw`[^:\s\x00-\x1f\x7f]+`;
/** What a token may hold: visible ASCII, as an HTTP header value must (see check.token). */
const TOKEN = /^[\x21-\x7e]{1,4096}$/;

const PATTERNS = {
  userId: new RegExp(`^@${OPAQUE}:${SERVER}$`),
  // Room version 12 room IDs have no server part; older ones do.
  roomId: new RegExp(`^!${OPAQUE}(?::${SERVER})?$`),
  roomAlias: new RegExp(`^#${OPAQUE}:${SERVER}$`),
  eventId: new RegExp(`^\\$${OPAQUE}(?::${SERVER})?$`),
  mxcUri: new RegExp(`^mxc://${SERVER}/[A-Za-z0-9_-]+$`),
  serverName: new RegExp(`^${SERVER}$`),
  clientSecret: /^[0-9a-zA-Z.=_-]{1,255}$/,
  noControl: /^[^\x00-\x1f\x7f]*$/,
};

const RULES = {
  userId: 'must be a user ID like @name:example.org',
  roomId: 'must be a room ID like !opaque:example.org',
  roomAlias: 'must be a room alias like #name:example.org',
  eventId: 'must be an event ID like $opaque',
  mxcUri: 'must be an mxc:// URI like mxc://example.org/mediaId',
  serverName: 'must be a server name like example.org or example.org:8448',
  clientSecret: 'must be 1 to 255 characters of [0-9a-zA-Z.=_-]',
};

type IdKind = keyof typeof RULES;
/** IDs are at most 255 bytes (spec, Appendices § Identifier grammar). */
const MAX_ID_BYTES = 255;

function id(kind: IdKind, name: string, value: unknown): string {
  if (typeof value !== 'string' || !matches(value, PATTERNS[kind]) || Buffer.byteLength(value) > MAX_ID_BYTES) {
    throw new ValidationError(name, RULES[kind]);
  }
  return value;
}

/**
 * A homeserver base URL in its normal form (no trailing slash), or the rule it breaks.
 * WHATWG URL parsing decides what the URL is; on top of it a base URL may have a path
 * (a homeserver behind a reverse proxy: `https://example.org/matrix`) but nothing that would
 * misroute or leak what is appended to it: no query, fragment or user info, no whitespace
 * around it (the parser would drop it silently), only http(s).
 */
export function parseBaseUrl(v: unknown): { url: string } | { rule: string } {
  if (typeof v !== 'string') return { rule: 'must be a string' };
  if (v.length > 2048) return { rule: 'must be at most 2048 characters' };
  if (v.trim() !== v) return { rule: 'must not have leading or trailing whitespace' };
  // The parser drops tabs and newlines anywhere in the URL; we refuse them instead.
  if (!matches(v, PATTERNS.noControl)) return { rule: 'must not contain control characters' };
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return { rule: 'must be an absolute http:// or https:// URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { rule: 'must use the http:// or https:// scheme' };
  // A bare "@", "?" or "#" parses to an empty part, so the text is checked as well.
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:[/\\]*[^/\\?#]*@/i.test(v)) {
    return { rule: 'must not contain user info (user:password@)' };
  }
  if (url.search || v.includes('?')) return { rule: 'must not have a query (?…)' };
  if (url.hash || v.includes('#')) return { rule: 'must not have a fragment (#…)' };
  return { url: url.origin + url.pathname.replace(/\/+$/, '') };
}

/**
 * Input checks, each throwing a ValidationError that names the parameter and the rule.
 * Messages never echo the value: it might be a password passed in the wrong place.
 */
/** A JSON object: not null, not an array (what a server's `{…}` parses to). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const check = {
  userId: (name: string, v: unknown) => id('userId', name, v),
  roomId: (name: string, v: unknown) => id('roomId', name, v),
  roomAlias: (name: string, v: unknown) => id('roomAlias', name, v),
  eventId: (name: string, v: unknown) => id('eventId', name, v),
  mxcUri: (name: string, v: unknown) => id('mxcUri', name, v),
  serverName: (name: string, v: unknown) => id('serverName', name, v),
  clientSecret: (name: string, v: unknown) => id('clientSecret', name, v),

  roomIdOrAlias(name: string, v: unknown): string {
    if (typeof v === 'string' && v.startsWith('#')) return id('roomAlias', name, v);
    if (typeof v === 'string' && v.startsWith('!')) return id('roomId', name, v);
    throw new ValidationError(name, 'must be a room ID (!…) or a room alias (#…)');
  },

  /** A non-empty string without control characters, at most `max` characters long. */
  string(name: string, v: unknown, { max = 65536, allowEmpty = false, multiline = false } = {}): string {
    if (typeof v !== 'string') throw new ValidationError(name, 'must be a string');
    if (!allowEmpty && v === '') throw new ValidationError(name, 'must not be empty');
    if (v.length > max) throw new ValidationError(name, `must be at most ${max} characters`);
    if (!multiline && !matches(v, PATTERNS.noControl)) {
      throw new ValidationError(name, 'must not contain control characters');
    }
    return v;
  },

  int(name: string, v: unknown, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    if (!isInt(v) || (v as number) < min || (v as number) > max) {
      throw new ValidationError(name, `must be an integer from ${min} to ${max}`);
    }
    return v as number;
  },

  bool(name: string, v: unknown): boolean {
    if (typeof v !== 'boolean') throw new ValidationError(name, 'must be true or false');
    return v;
  },

  oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
    if (!isIn(v, allowed as unknown as unknown[])) {
      throw new ValidationError(name, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    }
    return v as T;
  },

  email(name: string, v: unknown): string {
    if (typeof v !== 'string' || v.length > 254 || !isEmail(v, { require_tld: false })) {
      throw new ValidationError(name, 'must be an email address');
    }
    return v;
  },

  /** ISO 3166-1 alpha-2, upper case, as the spec's `country` wants. */
  country(name: string, v: unknown): string {
    if (typeof v !== 'string' || v !== v.toUpperCase() || !isISO31661Alpha2(v)) {
      throw new ValidationError(name, 'must be a two-letter upper-case ISO 3166-1 country code');
    }
    return v;
  },

  object(name: string, v: unknown): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ValidationError(name, 'must be an object');
    }
    return v as Record<string, unknown>;
  },

  array<T>(name: string, v: unknown, each: (name: string, item: unknown) => T): T[] {
    if (!Array.isArray(v)) throw new ValidationError(name, 'must be an array');
    return v.map((item, i) => each(`${name}[${i}]`, item));
  },

  /** A homeserver base URL (see parseBaseUrl); returns its normal form, without trailing slashes. */
  baseUrl(name: string, v: unknown): string {
    const parsed = parseBaseUrl(v);
    if ('rule' in parsed) throw new ValidationError(name, parsed.rule);
    return parsed.url;
  },

  /**
   * An access or refresh token: 1 to 4096 visible ASCII characters, since it goes into an
   * Authorization header as it is (anything else would be sent garbled, or not at all).
   */
  token(name: string, v: unknown): string {
    if (typeof v !== 'string' || !TOKEN.test(v)) throw new ValidationError(name, 'must be 1 to 4096 visible ASCII characters');
    return v;
  },

  /** Serialisable as JSON (no cycles, no BigInt), as a request body must be; returns the JSON. */
  json(name: string, v: unknown): string {
    try {
      return JSON.stringify(v);
    } catch {
      // Cycles and BigInts: the caller's mistake, caught before anything is sent.
      throw new ValidationError(name, 'must be serialisable as JSON');
    }
  },

  /** Runs `fn` only when the value is present: the shape of every optional argument. */
  optional<T>(v: T | undefined, fn: (v: T) => unknown): void {
    if (v !== undefined) fn(v);
  },
};
