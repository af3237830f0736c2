import { inspect } from 'node:util';
import { Credentials } from '../../lib/core/credentials';

const ACCESS = 'syt_CredAccess_91ab';
const REFRESH = 'syr_CredRefresh_c0de';

function dumps(c: Credentials): string[] {
  return [inspect(c), inspect(c, { showHidden: true, depth: 10 }), JSON.stringify(c), String(Object.entries(c)), `${JSON.stringify({ nested: { c } })}`];
}

describe('Credentials', () => {
  it('holds the tokens behind getters and the IDs in plain fields', () => {
    const c = new Credentials();
    c.set({ accessToken: ACCESS, refreshToken: REFRESH, userId: '@a:hs', deviceId: 'D' });
    expect(c.accessToken).toBe(ACCESS);
    expect(c.refreshToken).toBe(REFRESH);
    expect([c.userId, c.deviceId]).toEqual(['@a:hs', 'D']);
    expect(Object.keys(c)).not.toContain('accessToken');
  });

  it('never prints a token: inspect, JSON and enumeration show "[redacted]" at most', () => {
    const c = new Credentials();
    c.set({ accessToken: ACCESS, refreshToken: REFRESH, userId: '@a:hs', deviceId: 'D' });
    for (const text of dumps(c)) {
      expect(text).not.toContain(ACCESS);
      expect(text).not.toContain(REFRESH);
    }
    expect(JSON.parse(JSON.stringify(c))).toEqual({ userId: '@a:hs', deviceId: 'D', accessToken: '[redacted]' });
    expect(inspect(c)).toContain('[redacted]');
  });

  it('set() replaces both tokens, keeps IDs not given, and computes the expiry', () => {
    const c = new Credentials();
    c.set({ accessToken: ACCESS, refreshToken: REFRESH, userId: '@a:hs', deviceId: 'D', expiresInMs: 5000 });
    const before = Date.now();
    expect(c.expiresAt).toBeGreaterThan(before);
    expect(c.expiresAt).toBeLessThanOrEqual(before + 5000);
    c.set({ accessToken: 'other' });
    expect(c.accessToken).toBe('other');
    expect(c.refreshToken).toBeUndefined();
    expect(c.expiresAt).toBeUndefined();
    expect([c.userId, c.deviceId]).toEqual(['@a:hs', 'D']);
    c.set({});
    expect(c.accessToken).toBeUndefined();
    expect(c.userId).toBe('@a:hs');
  });

  it('rotate() keeps the refresh token when none is given', () => {
    const c = new Credentials();
    c.set({ accessToken: ACCESS, refreshToken: REFRESH });
    c.rotate('new-access', undefined, undefined);
    expect([c.accessToken, c.refreshToken, c.expiresAt]).toEqual(['new-access', REFRESH, undefined]);
    c.rotate('newer', 'new-refresh', 1000);
    expect([c.accessToken, c.refreshToken]).toEqual(['newer', 'new-refresh']);
    expect(c.expiresAt).toBeGreaterThan(Date.now());
  });

  it('clear() forgets everything', () => {
    const c = new Credentials();
    c.set({ accessToken: ACCESS, refreshToken: REFRESH, userId: '@a:hs', deviceId: 'D', expiresInMs: 1 });
    c.clear();
    expect([c.accessToken, c.refreshToken, c.userId, c.deviceId, c.expiresAt]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(JSON.parse(JSON.stringify(c))).toEqual({});
  });
});
