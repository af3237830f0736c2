// Synapse admin helpers, plain fetch (no SDK code).
import { createHmac } from 'node:crypto';

export interface RegisteredUser {
  user_id: string;
  access_token: string;
  device_id: string;
}

async function call<T>(method: string, url: string, token?: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Registers a user via /_synapse/admin/v1/register (nonce + HMAC-SHA1 over the shared secret). */
export async function registerWithSharedSecret(
  baseUrl: string,
  secret: string,
  { username, password, admin = false }: { username: string; password: string; admin?: boolean },
): Promise<RegisteredUser> {
  const url = `${baseUrl}/_synapse/admin/v1/register`;
  // Nonces are single-use and live in server memory for 60 s: fetch one per registration.
  const { nonce } = await call<{ nonce: string }>('GET', url);
  const mac = createHmac('sha1', secret)
    .update([nonce, username, password, admin ? 'admin' : 'notadmin'].join('\x00'))
    .digest('hex');
  return call<RegisteredUser>('POST', url, undefined, { nonce, username, password, admin, mac });
}

/** Sets a per-user message rate limit (0/0 means "no limit" here, unlike the config's rc_* keys). */
export async function overrideRatelimit(
  baseUrl: string,
  adminToken: string,
  userId: string,
  { messagesPerSecond, burstCount }: { messagesPerSecond: number; burstCount: number },
): Promise<{ messages_per_second: number; burst_count: number }> {
  return call('POST', `${baseUrl}/_synapse/admin/v1/users/${encodeURIComponent(userId)}/override_ratelimit`,
    adminToken, { messages_per_second: messagesPerSecond, burst_count: burstCount });
}
