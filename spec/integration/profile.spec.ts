import { MatrixError } from '../../lib';
import { itEnv, uniqueName } from '../harness/env';
import { anonSession, eventually, newUser } from './helpers';

jest.setTimeout(60_000);

describe('profile (Synapse)', () => {
  it('display name and avatar set by one user are read back by another user and anonymously', async () => {
    const [alice, bob] = await Promise.all([newUser('prof'), newUser('prof')]);
    const me = alice.userId!;
    const name = `Alice ${uniqueName('n')}`;
    const avatar = `mxc://${itEnv().serverName}/${uniqueName('av').replace(/[^A-Za-z0-9_-]/g, '_')}`;

    // Synapse gives a new user its localpart as display name and no avatar.
    expect(await bob.profile.getDisplayName(me)).toBe(me.slice(1).split(':')[0]);
    expect(await bob.profile.getAvatarUrl(me)).toBeUndefined();

    // Without a user ID, the setters change the session user's own profile.
    await alice.profile.setDisplayName(name);
    await alice.profile.setAvatarUrl(avatar);

    expect(await bob.profile.get(me)).toEqual(expect.objectContaining({ displayname: name, avatar_url: avatar }));
    expect(await bob.profile.getDisplayName(me)).toBe(name);
    expect(await bob.profile.getAvatarUrl(me)).toBe(avatar);
    // No token: the profile GETs are public by default on Synapse.
    expect(await anonSession().profile.get(me)).toEqual(expect.objectContaining({ displayname: name, avatar_url: avatar }));
  });

  it('another user may not change my display name', async () => {
    const [alice, bob] = await Promise.all([newUser('prof'), newUser('prof')]);
    const error = await bob.profile.setDisplayName(alice.userId!, 'hijacked').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    // The spec says 403; Synapse 1.163 answers 400 with M_FORBIDDEN.
    expect(error).toMatchObject({ httpStatus: 400, errcode: 'M_FORBIDDEN' });
    expect(await bob.profile.getDisplayName(alice.userId!)).not.toBe('hijacked');
  });

  it('an unknown user: get throws 404, the field getters read undefined', async () => {
    const s = await newUser('prof');
    const ghost = `@${uniqueName('ghost')}:${itEnv().serverName}`;
    await expect(s.profile.get(ghost)).rejects.toMatchObject({ name: 'MatrixError', httpStatus: 404 });
    expect(await s.profile.getDisplayName(ghost)).toBeUndefined();
    expect(await s.profile.getAvatarUrl(ghost)).toBeUndefined();
  });

  it('custom profile fields (spec 1.16): set, read back by another user, delete', async () => {
    const [alice, bob] = await Promise.all([newUser('prof'), newUser('prof')]);
    const me = alice.userId!;
    const value = { colour: 'teal', n: [1, 2] };
    await alice.profile.setField(me, 'org.example.favourite', value);
    await alice.profile.setField(me, 'm.tz', 'Europe/Paris');
    expect(await bob.profile.getField(me, 'org.example.favourite')).toEqual(value);
    expect(await bob.profile.get(me)).toEqual(expect.objectContaining({ 'org.example.favourite': value, 'm.tz': 'Europe/Paris' }));

    await alice.profile.deleteField(me, 'org.example.favourite');
    expect(await bob.profile.getField(me, 'org.example.favourite')).toBeUndefined();
    expect(await bob.profile.get(me)).not.toHaveProperty(['org.example.favourite']);
    expect(await bob.profile.getField(me, 'm.tz')).toBe('Europe/Paris');
  });

  it('searchUsers finds a freshly registered user by display name', async () => {
    const [searcher, target] = await Promise.all([newUser('srch'), newUser('srch')]);
    // A word no other user has: user-directory search matches on word prefixes.
    const word = `zq${Math.random().toString(36).slice(2, 10)}`;
    await target.profile.setDisplayName(target.userId!, `Findable ${word}`);

    const found = await eventually(async () => {
      const res = await searcher.profile.searchUsers(word, { limit: 5, language: 'en' });
      return res.results.find((r) => r.user_id === target.userId) && res;
    });
    expect(found.limited).toBe(false);
    // Synapse sends `avatar_url: null` for a user without one.
    expect(found.results).toEqual([{ user_id: target.userId, display_name: `Findable ${word}`, avatar_url: null }]);
    // The searcher is never in its own results.
    expect((await searcher.profile.searchUsers(searcher.userId!)).results.map((r) => r.user_id)).not.toContain(searcher.userId);
  });
});
