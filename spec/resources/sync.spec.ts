import nock from 'nock';
import { InvalidResponseError, NotLoggedInError, ValidationError } from '../../lib';
import { AUTH, BASE, guardNock, ME, session } from '../helpers/fixtures';

const FILTER_PATH = `/_matrix/client/v3/user/${encodeURIComponent(ME)}/filter`;

guardNock();

describe('sync.once', () => {
  it('sends every option as the spec names it, a filter object inline as JSON', async () => {
    nock(BASE, AUTH)
      .get('/_matrix/client/v3/sync')
      .query({ filter: '{"room":{"timeline":{"limit":5}}}', since: 's1', full_state: 'true', set_presence: 'unavailable', timeout: '250' })
      .reply(200, { next_batch: 's2' });
    const res = await session().sync.once({
      filter: { room: { timeline: { limit: 5 } } },
      since: 's1',
      fullState: true,
      setPresence: 'unavailable',
      timeout: 250,
    });
    expect(res.next_batch).toBe('s2');
  });

  it('defaults to timeout 0 and passes a filter ID as is', async () => {
    nock(BASE).get('/_matrix/client/v3/sync').query({ filter: '42', timeout: '0' }).reply(200, { next_batch: 'n' });
    await session().sync.once({ filter: '42' });
  });

  it('sets room_id on timeline and state events, and leaves out and reports malformed ones (sync.error, source malformed)', async () => {
    const room = '!r:example.org';
    nock(BASE)
      .get('/_matrix/client/v3/sync')
      .query(true)
      .reply(200, {
        next_batch: 'n',
        rooms: {
          join: {
            [room]: {
              state: { events: [{ type: 'm.room.name', state_key: '', content: {} }] },
              timeline: { events: [null, { type: 'm.room.message', event_id: '$1', content: { body: 'hi' } }] },
            },
          },
        },
      });
    const s = session();
    const reports: unknown[] = [];
    s.on('sync.error', (_e, info) => void reports.push(info));
    const res = await s.sync.once();
    const joined = res.rooms!.join![room];
    expect(joined.timeline!.events).toEqual([{ type: 'm.room.message', event_id: '$1', content: { body: 'hi' }, room_id: room }]);
    expect(joined.state!.events[0].room_id).toBe(room);
    expect(reports).toEqual([{ source: 'malformed', roomId: room, section: 'timeline', retryInMs: undefined, failures: 0 }]);
  });

  it('rejects a body whose top level is malformed', async () => {
    nock(BASE).get('/_matrix/client/v3/sync').query(true).reply(200, { next_batch: 'n', rooms: 'evil' });
    await expect(session().sync.once()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('rejects a body without next_batch', async () => {
    nock(BASE).get('/_matrix/client/v3/sync').query(true).reply(200, {});
    await expect(session().sync.once()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('validates its options before any request', async () => {
    const s = session();
    await expect(s.sync.once({ timeout: 1.5 })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.once({ setPresence: 'busy' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.once({ filter: 7 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.once({ since: '' })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.once({ fullState: 'yes' as never })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('sync filters', () => {
  it('createFilter posts the filter for the session user and resolves with its ID', async () => {
    nock(BASE, AUTH).post(FILTER_PATH, { room: { rooms: ['!r:example.org'] } }).reply(200, { filter_id: 'abc' });
    expect(await session().sync.createFilter({ room: { rooms: ['!r:example.org'] } })).toBe('abc');
  });

  it('getFilter fetches a filter by ID', async () => {
    nock(BASE, AUTH).get(`${FILTER_PATH}/abc`).reply(200, { room: {} });
    expect(await session().sync.getFilter('abc')).toEqual({ room: {} });
  });

  it('need a logged-in user and valid arguments', async () => {
    await expect(session(false).sync.createFilter({})).rejects.toBeInstanceOf(NotLoggedInError);
    await expect(session().sync.createFilter([] as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(session().sync.getFilter('')).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('sync loop API', () => {
  it('is stopped and not running before start; stop() then does nothing', async () => {
    const s = session();
    expect(s.sync.state).toBe('STOPPED');
    expect(s.sync.running).toBe(false);
    const states: string[] = [];
    s.on('sync', (st) => void states.push(st));
    await s.sync.stop();
    expect(states).toEqual([]);
  });

  it('validates the start options', async () => {
    const s = session();
    await expect(s.sync.start({ filter: 3 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ fullState: 1 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ autoJoin: 'yes' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ saveTokenBeforeDispatch: 1 as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start({ backoffMaxMs: 1.5 })).rejects.toBeInstanceOf(ValidationError);
    await expect(s.sync.start(null as never)).rejects.toBeInstanceOf(ValidationError);
    expect(s.sync.running).toBe(false);
  });

  it('reportListenerError emits sync.error with source listener', () => {
    const s = session();
    const seen: unknown[] = [];
    s.on('sync.error', (e, info) => void seen.push(e, info));
    const boom = new Error('boom');
    s.sync.reportListenerError('room.message', boom);
    expect(seen).toEqual([boom, { source: 'listener', event: 'room.message', retryInMs: undefined, failures: 0 }]);
  });
});
