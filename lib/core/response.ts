import type { AxiosResponse } from 'axios';
import { parse as parseDisposition } from 'content-disposition';
import { InvalidResponseError, MatrixError, ValidationError, type RequestTarget } from './errors';
import { RETRY_AFTER_STATUS, rateLimitDelay } from './retry';
import { check, isObject } from './validate';

/**
 * What a field of a 2xx body must be, for the fields the SDK relies on; a trailing `?`
 * means it may be absent (or null). `token`: 1 to 4096 visible ASCII characters (it goes
 * into an Authorization header); `deviceId`: 1 to 255 characters without control
 * characters; `mxcUri`: `mxc://server/mediaId`; `int`: a non-negative integer.
 */
export type FieldType = 'string' | 'token' | 'userId' | 'deviceId' | 'mxcUri' | 'int' | 'boolean' | 'object' | 'array';

/** A FieldType, or one that may be absent. */
export type FieldRule = FieldType | `${FieldType}?`;

const FIELD_CHECKS: Record<FieldType, (name: string, v: unknown) => unknown> = {
  string: (name, v) => {
    if (typeof v !== 'string') throw new ValidationError(name, 'must be a string');
  },
  token: check.token,
  userId: check.userId,
  mxcUri: check.mxcUri,
  deviceId: (name, v) => check.string(name, v, { max: 255 }),
  int: (name, v) => check.int(name, v),
  boolean: check.bool,
  object: check.object,
  array: (name, v) => {
    if (!Array.isArray(v)) throw new ValidationError(name, 'must be an array');
  },
};

/** What the core needs to know to accept a 2xx body (the matching RequestSpec fields). */
export interface SuccessShape {
  required?: readonly string[];
  fields?: Readonly<Record<string, FieldRule>>;
  returnsArray?: boolean;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The parsed 2xx body, or an InvalidResponseError naming what is wrong with it (never its values). */
export function parseSuccess<T>(target: RequestTarget, response: AxiosResponse<string>, shape: SuccessShape): T {
  const data = response.data === '' ? {} : parseJson(response.data);
  const invalid = (reason: string) => new InvalidResponseError(target, response.status, reason);
  if (typeof data !== 'object' || data === null) throw invalid('the body is not a JSON object or array');
  if (shape.returnsArray && !Array.isArray(data)) throw invalid('the body is not a JSON array');
  const fields = data as Record<string, unknown>;
  for (const field of shape.required ?? []) {
    if (Array.isArray(data) || fields[field] == null) throw invalid(`the required field "${field}" is missing`);
  }
  for (const [field, rule] of Object.entries(shape.fields ?? {})) {
    const optional = rule.endsWith('?');
    const value = Array.isArray(data) ? undefined : fields[field];
    if (value == null) {
      if (optional) continue;
      throw invalid(`the required field "${field}" is missing`);
    }
    try {
      FIELD_CHECKS[(optional ? rule.slice(0, -1) : rule) as FieldType](field, value);
    } catch (error) {
      if (error instanceof ValidationError) throw invalid(`the field "${field}" ${error.rule}`);
      throw error;
    }
  }
  return data as T;
}

/** The MatrixError for a non-2xx reply, with `secrets` redacted from whatever the server wrote. */
export function toMatrixError(
  target: RequestTarget,
  response: AxiosResponse<string>,
  secrets: ReadonlyArray<string | undefined>,
): MatrixError {
  const parsed = parseJson(response.data);
  const body = isObject(parsed)
    ? parsed
    : { errcode: 'M_UNKNOWN', error: `Non-JSON error response (HTTP ${response.status})` };
  const retryAfter = RETRY_AFTER_STATUS.has(response.status)
    ? rateLimitDelay(response.headers['retry-after'], body)
    : undefined;
  return new MatrixError(target, response.status, body, retryAfter, secrets);
}

/**
 * The file name a Content-Disposition header gives (RFC 6266: `filename*` in RFC 8187
 * encoding preferred over `filename`), made safe to show or to join to a folder: only its
 * last path component, without control characters, at most 255 characters; undefined when
 * the header is absent, malformed or names nothing usable.
 */
export function dispositionFilename(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  let name: string | undefined;
  try {
    name = parseDisposition(header).parameters.filename;
  } catch {
    return undefined; // a malformed header names no file
  }
  if (typeof name !== 'string') return undefined;
  const base = name
    .split(/[/\\]/)
    .pop()!
    .replace(/[\x00-\x1f\x7f]/g, '')
    .trim()
    .slice(0, 255);
  return base === '' || base === '.' || base === '..' ? undefined : base;
}
