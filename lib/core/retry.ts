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

/** Error codes meaning the connection was never made, so nothing reached the server. */
export const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Full jitter: a random delay in [base*2^attempt / 2, base*2^attempt], capped. */
export function backoffDelay(attempt: number, s: RetrySettings): number {
  const ceiling = Math.min(s.backoffMaxMs, s.backoffBaseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * The delay a 429 asks for: the `Retry-After` header (seconds or an HTTP date) first, as
 * spec v1.10 prefers, then the deprecated `retry_after_ms` in the body.
 */
export function rateLimitDelay(retryAfterHeader: unknown, body: Record<string, unknown>): number | undefined {
  if (typeof retryAfterHeader === 'string' && retryAfterHeader.trim() !== '') {
    const value = retryAfterHeader.trim();
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    // Every HTTP-date form starts with a day name; Date.parse alone would take "-5" for the year -5.
    const date = /^[A-Za-z]{3}/.test(value) ? Date.parse(value) : NaN;
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  const ms = body.retry_after_ms;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
