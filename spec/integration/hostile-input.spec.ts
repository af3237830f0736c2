// Hostile input against a real Synapse: state keys, event types and account-data types full
// of / .. ? # % and non-ASCII round-trip exactly; odd IDs land on the endpoint meant (a
// misrouted request would answer M_UNRECOGNIZED); a proxy's HTML 502 is a typed error.
import { MatrixError } from '../../lib';
import { itEnv } from '../harness/env';
import { startFaultProxy } from '../harness/fault-proxy';
import { anonSession, newUser } from './helpers';

const KEYS = ['a/b', 'a/../b', '../../x', '?q=1&r=2', '#frag', '100%', '%2F', 'ключ/🔑', 'a..b', '...', ' spaced '];
const TYPE = 'org.example.hostile/type?#%';

describe('hostile input (Synapse)', () => {
  it('state keys with / .. ? # % and non-ASCII round-trip exactly, one state event each', async () => {
    const s = await newUser('hostile');
    const { room_id: roomId } = await s.rooms.create({});
    for (const key of KEYS) {
      await s.rooms.sendStateEvent({ roomId, type: TYPE, stateKey: key, content: { key } });
    }
    for (const key of KEYS) {
      await expect(s.rooms.stateEvent(roomId, TYPE, key)).resolves.toEqual({ key });
    }
    const state = await s.rooms.state(roomId);
    const ours = state.filter((ev) => ev.type === TYPE);
    expect(ours.map((ev) => ev.state_key).sort()).toEqual([...KEYS].sort());
    for (const ev of ours) expect(ev.content).toEqual({ key: ev.state_key });
  });

  it('an account-data type with the same characters round-trips', async () => {
    const s = await newUser('hostile');
    const type = 'org.example/../data?x=1#y%';
    await s.account.setAccountData(type, { ok: 'ü' });
    await expect(s.account.getAccountData(type)).resolves.toEqual({ ok: 'ü' });
  });

  it('a nonexistent room ID full of / ? # is refused by the endpoint meant, not misrouted', async () => {
    const s = await newUser('hostile');
    const roomId = `!no/../such?room#x%:${itEnv().serverName}`;
    const err = await s.rooms.stateEvent(roomId, 'm.room.name', '').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MatrixError);
    // 403 (not in the room) or 404: either way the state endpoint answered, not the router.
    expect([403, 404]).toContain((err as MatrixError).httpStatus);
    expect((err as MatrixError).errcode).not.toBe('M_UNRECOGNIZED');
  });

  it('an HTML 502 from a proxy in front of Synapse is a MatrixError M_UNKNOWN with the status, after the retries of a GET', async () => {
    const proxy = await startFaultProxy(itEnv().baseUrl, { badGatewayRate: 1 });
    try {
      const s = anonSession({ baseUrl: proxy.url, backoffBaseMs: 1, maxRetries: 2 });
      const err = await s.server.versions().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MatrixError);
      expect(err).toMatchObject({ httpStatus: 502, errcode: 'M_UNKNOWN' });
      expect(proxy.counters.badGateway).toBe(3);
    } finally {
      await proxy.close();
    }
  });
});
