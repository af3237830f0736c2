import { boundedCopy, clip, MAX_ERROR_TEXT, redact, secretList } from './scrub';

/**
 * The error hierarchy. Every failure the SDK reports is one of these; none carries the
 * access token, the Authorization header or a raw axios object (which would hold both).
 */
export class MatrixSessionError extends Error {
  /** The class's name (`MatrixError`, `TimeoutError`, …); unlike `instanceof`, it survives serialisation. */
  override name = 'MatrixSessionError';
  /** The error's own fields with its `name` and `message` (no stack), for `JSON.stringify` and structured logs. */
  toJSON(): Record<string, unknown> {
    return { ...(this as object), name: this.name, message: this.message };
  }
}

/** Where a request went: enough to debug, nothing secret (paths never hold tokens). */
export interface RequestTarget {
  /** The HTTP method. */
  method: string;
  /** The request's encoded path, without the query string. */
  path: string;
}

/**
 * The homeserver answered with an error (or with something that is not the spec's JSON).
 * What the server wrote is kept with every secret the session held or sent replaced by
 * `[redacted]`, its `error` text clipped to 4 096 characters, and `body` a bounded copy
 * (32 levels, about 64 KiB of text), so printing or serialising the error is always safe.
 */
export class MatrixError extends MatrixSessionError {
  override name = 'MatrixError';
  /** The HTTP status of the reply, e.g. 403. */
  readonly httpStatus: number;
  /** The spec's error code, e.g. `M_FORBIDDEN`; `M_UNKNOWN` when the body has none. */
  readonly errcode: string;
  /** The server's `error` text (redacted, clipped to 4 096 characters); `HTTP <status>` when it has none. */
  readonly error: string;
  /** A bounded, redacted copy of the parsed error body. */
  readonly body: Record<string, unknown>;
  /** 429 and 503: from `Retry-After` (preferred) or `retry_after_ms`, when the server gave one. */
  readonly retryAfterMs?: number;
  /** The body's `soft_logout` flag (on a 401 M_UNKNOWN_TOKEN): the device survives, a new login may reuse it. */
  readonly softLogout: boolean;
  /** The HTTP method of the request. */
  readonly method: string;
  /** The request's encoded path, without the query string. */
  readonly path: string;

  /**
   * @param target The request's method and path.
   * @param httpStatus The reply's status.
   * @param retryAfterMs The delay the server asked for, if any.
   * @param body The parsed error body; it is copied (bounded) and not kept itself.
   * @param secrets Strings to replace with `[redacted]` wherever the server's text holds
   *   them (the request core passes the tokens and the request's passwords).
   */
  constructor(
    target: RequestTarget,
    httpStatus: number,
    body: Record<string, unknown>,
    retryAfterMs?: number,
    secrets: ReadonlyArray<string | undefined> = [],
  ) {
    const hidden = secretList(secrets);
    const kept = boundedCopy(body, hidden) as Record<string, unknown>;
    const errcode = typeof body.errcode === 'string' ? clip(redact(body.errcode, hidden), 255) : 'M_UNKNOWN';
    const error = typeof body.error === 'string' ? clip(redact(body.error, hidden), MAX_ERROR_TEXT) : `HTTP ${httpStatus}`;
    super(`${errcode} (${httpStatus}) on ${target.method} ${target.path}: ${error}`);
    this.httpStatus = httpStatus;
    this.errcode = errcode;
    this.error = error;
    this.body = kept;
    this.retryAfterMs = retryAfterMs;
    this.softLogout = body.soft_logout === true;
    this.method = target.method;
    this.path = target.path;
  }

  /** A user-interactive-auth challenge: 401 with `flows` to pick from. */
  get isUserInteractiveAuth(): boolean {
    return this.httpStatus === 401 && Array.isArray(this.body.flows);
  }
}

/** Bad input, caught before any request leaves the process. */
export class ValidationError extends MatrixSessionError {
  override name = 'ValidationError';
  constructor(
    /** The parameter (or field path, e.g. `opts.limit`) that was refused. */
    readonly parameter: string,
    /** The rule it broke, e.g. `must be a room ID like !opaque:example.org`. It never repeats the value. */
    readonly rule: string,
  ) {
    super(`Invalid ${parameter}: ${rule}`);
  }
}

/** The server's reply was not what the spec promises (HTML, truncated JSON, a missing field). */
export class InvalidResponseError extends MatrixSessionError {
  override name = 'InvalidResponseError';
  constructor(
    target: RequestTarget,
    /** The reply's HTTP status; 0 for a redirect that could not be followed. */
    readonly httpStatus: number,
    /** What was wrong, e.g. `the body is not a JSON object or array`; never the body's values. */
    readonly reason: string,
  ) {
    super(`Invalid response to ${target.method} ${target.path} (HTTP ${httpStatus}): ${reason}`);
  }
}

/** The request could not be completed at the network level. */
export class ConnectionError extends MatrixSessionError {
  override name = 'ConnectionError';
  constructor(
    target: RequestTarget,
    /** The system error code, e.g. ECONNREFUSED or ECONNRESET. */
    readonly code: string,
    /** False only when the request certainly never reached the server (refused, DNS). */
    readonly mayHaveReachedServer: boolean,
  ) {
    super(`Connection failed (${code}) on ${target.method} ${target.path}`);
  }
}

/**
 * The reply was larger than `maxResponseBytes` (the session option, or the endpoint's own
 * limit). The connection was closed at that point: the rest of the body was never read.
 * Not retried: asking again would bring the same body.
 */
export class ResponseTooLargeError extends MatrixSessionError {
  override name = 'ResponseTooLargeError';
  /** The request's method. */
  readonly method: string;
  /** The request's encoded path, without the query string. */
  readonly path: string;
  constructor(
    target: RequestTarget,
    /** The limit that was passed, in bytes. */
    readonly limitBytes: number,
  ) {
    super(`The response to ${target.method} ${target.path} is larger than ${limitBytes} bytes (maxResponseBytes); it was not read further`);
    this.method = target.method;
    this.path = target.path;
  }
}

/** An attempt got no complete reply within its `timeoutMs` (safe requests are retried first). */
export class TimeoutError extends MatrixSessionError {
  override name = 'TimeoutError';
  constructor(
    target: RequestTarget,
    /** The time limit that passed, in ms (also the idle limit of a streamed body). */
    readonly timeoutMs: number,
  ) {
    super(`No response within ${timeoutMs} ms to ${target.method} ${target.path}`);
  }
}

/** The caller's `signal` fired, or the session was closed. */
export class AbortError extends MatrixSessionError {
  override name = 'AbortError';
  constructor(target?: RequestTarget) {
    super(target ? `Request aborted: ${target.method} ${target.path}` : 'Aborted');
  }
}

/** A call that needs an access token was made on a session that has none. */
export class NotLoggedInError extends MatrixSessionError {
  override name = 'NotLoggedInError';
  constructor(what: RequestTarget | string) {
    super(`${typeof what === 'string' ? what : `${what.method} ${what.path}`} needs a logged-in session`);
  }
}

/**
 * A raw request body (an upload) gave more or fewer bytes than its declared length. The
 * request was cut before the excess left (or before the server would wait for the missing
 * bytes until the timeout); it is not retried.
 */
export class BodyLengthError extends MatrixSessionError {
  override name = 'BodyLengthError';
  constructor(
    /** The declared length, in bytes. */
    readonly declaredBytes: number,
    /** Whether the data had `more` or `fewer` bytes than declared. */
    readonly actual: 'more' | 'fewer',
  ) {
    super(`The request body has ${actual} bytes than its declared length (${declaredBytes})`);
  }
}

/** The source of a raw request body (the caller's stream or file) failed while it was read; `cause` is its error. */
export class BodyReadError extends MatrixSessionError {
  override name = 'BodyReadError';
  constructor(
    /** The source's own error. */
    override readonly cause: unknown,
  ) {
    super(`The request body could not be read${cause instanceof Error ? `: ${cause.message}` : ''}`);
  }
}

/**
 * An upload larger than the server accepts (`m.upload.size` of the media config), refused
 * before anything was sent; or a stream of unknown length that passed the limit while it was
 * buffered to learn its length.
 */
export class MediaTooLargeError extends MatrixSessionError {
  override name = 'MediaTooLargeError';
  constructor(
    /** The limit, in bytes. */
    readonly limitBytes: number,
    /** The body's size, when known (a stream being buffered is only known to be larger). */
    readonly sizeBytes?: number,
  ) {
    super(`The upload (${sizeBytes === undefined ? `more than ${limitBytes}` : sizeBytes} bytes) is larger than the server's limit of ${limitBytes} bytes`);
  }
}

/**
 * A downloaded encrypted attachment does not match its SHA-256 hash (from the event's
 * `file.hashes.sha256`): the ciphertext was altered or is not the one the event names. The
 * download fails at its end, before the stream ends; nothing is written to a destination file.
 */
export class AttachmentHashError extends MatrixSessionError {
  override name = 'AttachmentHashError';
  constructor(
    /** The mxc:// URI of the attachment. */
    readonly url: string,
  ) {
    super(`The encrypted attachment ${url} does not match its SHA-256 hash`);
  }
}
