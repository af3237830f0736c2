import { itEnv } from '../harness/env';
import { newUser } from './helpers';

describe('account (Synapse)', () => {
  it('registers with the dummy stage and whoami names the new user', async () => {
    const s = await newUser('acct');
    expect(s.isLoggedIn).toBe(true);
    const me = await s.account.whoami();
    expect(me.user_id).toBe(s.userId);
    expect(me.device_id).toBe(s.deviceId);
    expect(s.userId).toMatch(new RegExp(`:${itEnv().serverName}$`));
  });

  it('logout invalidates the token: the server refuses it afterwards', async () => {
    const s = await newUser('acct');
    const token = s.getAccessToken()!;
    await s.account.logout();
    expect(s.isLoggedIn).toBe(false);
    const res = await fetch(`${itEnv().baseUrl}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
  });
});
