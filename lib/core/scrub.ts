/**
 * What an error keeps of a server's text: every secret replaced, strings clipped, bodies
 * copied to a bounded depth and size. A hostile server can echo a token or a password, or
 * answer with a 50 MB string or an object nested 200 000 deep; none of that may reach a
 * message, a log, `JSON.stringify(error)` or `util.inspect(error)`.
 */

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

/** Limits of a body kept on an error. */
export const BODY_LIMITS = {
  /** Objects and arrays nested deeper than this are replaced by a marker. */
  maxDepth: 32,
  /** Characters of strings and keys kept in all (a rough byte budget); the rest is cut. */
  maxChars: 64 * 1024,
  /** Characters of any one string. */
  maxString: 16 * 1024,
};

/** Characters kept of a server's `error` text (and so of an error message). */
export const MAX_ERROR_TEXT = 4096;

/**
 * The non-empty secrets, longest first, so a secret that contains another is replaced whole.
 * `undefined` entries are allowed: callers pass whatever tokens they hold.
 */
export function secretList(secrets: ReadonlyArray<string | undefined>): string[] {
  const list = secrets.filter((s): s is string => typeof s === 'string' && s !== '');
  return [...new Set(list)].sort((a, b) => b.length - a.length);
}

/**
 * Secrets at least this long are replaced wherever they occur. A shorter one (a short
 * password) only where it stands apart from letters, digits and `_`: replacing the password
 * "o" inside "m.login.password" or a UIA session ID would break the exchange for nothing.
 */
const MIN_ANYWHERE = 16;

/** `text` with every occurrence of every secret replaced (whole text first: a cut could leave half a secret). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!out.includes(secret)) continue;
    if (secret.length >= MIN_ANYWHERE) {
      out = out.split(secret).join(REDACTED);
    } else {
      const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'g'), REDACTED);
    }
  }
  return out;
}

/** At most `max` characters, with a marker saying how long the text was; never half a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}… [truncated, ${text.length} characters]`;
}

/**
 * A copy of `value` with secrets redacted, holding only JSON values, at most
 * BODY_LIMITS.maxDepth deep and about BODY_LIMITS.maxChars of text: safe to keep, print
 * and serialise, whatever the server sent.
 */
export function boundedCopy(value: unknown, secrets: readonly string[]): unknown {
  const budget = { left: BODY_LIMITS.maxChars };
  return copy(value, 0, budget, secrets);
}

function text(value: string, budget: { left: number }, secrets: readonly string[]): string {
  const out = clip(redact(value, secrets), Math.min(BODY_LIMITS.maxString, Math.max(budget.left, 0)));
  budget.left -= out.length;
  return out;
}

function copy(value: unknown, depth: number, budget: { left: number }, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return text(value, budget, secrets);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') {
    budget.left -= 4;
    return value;
  }
  if (typeof value !== 'object') return value === undefined ? undefined : text(String(value), budget, secrets);
  if (depth >= BODY_LIMITS.maxDepth) return '[truncated: nested too deep]';
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      if (budget.left <= 0) {
        out.push(`[truncated: ${value.length - out.length} more items]`);
        break;
      }
      out.push(copy(item, depth + 1, budget, secrets));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    if (budget.left <= 0) {
      out['[truncated]'] = `${keys.length - i} more fields`;
      break;
    }
    const key = text(keys[i], budget, secrets);
    // A "__proto__" key from JSON.parse is an own field; assignment would set the prototype instead.
    Object.defineProperty(out, key, {
      value: copy((value as Record<string, unknown>)[keys[i]], depth + 1, budget, secrets),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
