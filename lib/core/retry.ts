import { AbortError, type RequestTarget } from './errors';
/**
 * Which failures are repeated, and how long to wait. The request core asks these questions;
 * the answers are kept here so the policy reads in one place (docs/reliability.md mirrors it).
 */
export interface RetrySettings {
  /** Retries after the first attempt, for 429s and transient failures together. */
  maxRetries: number;
  /** A 429 asking for a longer wait than this fails at once with the MatrixError. */
  maxRateLimitWaitMs: number;
  /** Exponential backoff for transient failures: base * 2^attempt, jittered, capped. */
  backoffBaseMs: number;
  /** The cap of that backoff, in ms. */
  backoffMaxMs: number;
}

export const DEFAULT_RETRY: RetrySettings = {
  maxRetries: 3,
  maxRateLimitWaitMs: 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 8_000,
};

/**
 * `safe`: repeating the request cannot do anything twice (GET, PUT with a transaction ID,
 * PUTs that set a value). `unsafe`: it might (login, register, createRoom…), so it is
 * repeated only when it certainly never reached the server.
 */
export type Idempotency = 'safe' | 'unsafe';

export const TRANSIENT_STATUS = new Set([502, 503, 504]);

/**
 * Error codes that come with a transient status but are the server's final answer: 504
 * M_NOT_YET_UPLOADED means the server already waited (the download's `timeout_ms`) for an
 * asynchronous upload that has not arrived; asking again at once would only wait again.
 */
const FINAL_ERRCODES = new Set(['M_NOT_YET_UPLOADED']);

/** A 502, 503 or 504 that a safe request may be repeated after. */
export function isTransient(error: { httpStatus: number; errcode: string }): boolean {
  return TRANSIENT_STATUS.has(error.httpStatus) && !FINAL_ERRCODES.has(error.errcode);
}

/** Statuses whose `Retry-After` (or `retry_after_ms`) is read and honoured: rate limited, and unavailable. */
export const RETRY_AFTER_STATUS = new Set([429, 503]);

/** Error codes meaning the connection was never made, so nothing reached the server. */
export const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Full jitter: a random delay in [base*2^attempt / 2, base*2^attempt], capped. */
export function backoffDelay(attempt: number, s: RetrySettings): number {
  const ceiling = Math.min(s.backoffMaxMs, s.backoffBaseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * The delay a 429 or a 503 asks for: the `Retry-After` header (seconds or an HTTP date)
 * first, as spec v1.10 prefers, then the deprecated `retry_after_ms` in the body. A delay
 * too large for a number (400 digits, `1e400` in JSON) is given as Number.MAX_SAFE_INTEGER:
 * "longer than any cap", never a value a timer would wrap around.
 */
export function rateLimitDelay(retryAfterHeader: unknown, body: Record<string, unknown>): number | undefined {
  if (typeof retryAfterHeader === 'string' && retryAfterHeader.trim() !== '') {
    const value = retryAfterHeader.trim();
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(Math.round(seconds * 1000), Number.MAX_SAFE_INTEGER);
    if (/^\d+(\.\d*)?$/.test(value)) return Number.MAX_SAFE_INTEGER; // digits beyond a double's range
    // Every HTTP-date form starts with a day name; Date.parse alone would take "-5" for the year -5.
    const date = /^[A-Za-z]{3}/.test(value) ? Date.parse(value) : NaN;
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  const ms = body.retry_after_ms;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) return undefined;
  return Math.min(Math.round(ms), Number.MAX_SAFE_INTEGER);
}

/** setTimeout's ceiling: Node runs a longer delay after 1 ms instead (and warns). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay a timer can take: rounded, at least 0, at most `maxMs` (itself at most
 * MAX_TIMER_MS). NaN and Infinity count as "as long as allowed", never as "now".
 */
export function clampDelay(ms: number, maxMs = MAX_TIMER_MS): number {
  const ceiling = Math.min(maxMs, MAX_TIMER_MS);
  if (Number.isNaN(ms)) return ceiling;
  return Math.min(Math.max(0, Math.round(ms)), ceiling);
}

/**
 * Resolves after `ms` (clamped by clampDelay, so it can never fire early), or at once when
 * `signal` aborts; it never rejects. The request core and the sync loop wait with it.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, clampDelay(ms));
    signal?.addEventListener('abort', done);
  });
}

/**
 * Settles like `work`, or rejects with an AbortError (naming `target`, when given) as soon as
 * `signal` aborts. The work itself goes on: this only stops the waiting.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, target?: RequestTarget): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortError(target));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError(target));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
