// The messaging half of session.rooms (lib/resources/room-messaging.ts): the helpers that build
// an event and send it through sendEvent, with the request each one makes.
import { NotLoggedInError } from '../../lib/core/errors';
import { guardNock, ME, notEncrypted, serve, session, TOKEN } from '../helpers/fixtures';

const BOB = '@bob:example.org';
const ROOM = '!room:example.org';
const R = '!room%3Aexample.org';
const EV = '$ev1:example.org';
const V3 = '/_matrix/client/v3';

// serve() primes replies that a test may rightly leave unused (a call refused before it sends).
guardNock({ allowPending: true });

describe('rooms: bot helpers', () => {
  it('sendText, sendNotice and sendHtml send m.room.message with fresh txnIds', async () => {
    const s = session();
    notEncrypted(ROOM); // asked once: the answer is kept
    const seen = serve('PUT', [200, { event_id: '$1' }], [200, { event_id: '$2' }], [200, { event_id: '$3' }], [200, { event_id: '$4' }]);
    await expect(s.rooms.sendText(ROOM, 'hi')).resolves.toEqual({ event_id: '$1' });
    await expect(s.rooms.sendNotice(ROOM, 'note')).resolves.toEqual({ event_id: '$2' });
    await expect(s.rooms.sendHtml(ROOM, '<b>bold</b> &amp; more', 'bold & more')).resolves.toEqual({ event_id: '$3' });
    await expect(s.rooms.sendHtml(ROOM, '<p>a &lt;b&gt;</p><p>c</p>')).resolves.toEqual({ event_id: '$4' });
    expect(seen.map((x) => x.body)).toEqual([
      { msgtype: 'm.text', body: 'hi' },
      { msgtype: 'm.notice', body: 'note' },
      { msgtype: 'm.text', body: 'bold & more', format: 'org.matrix.custom.html', formatted_body: '<b>bold</b> &amp; more' },
      { msgtype: 'm.text', body: 'a <b>\nc', format: 'org.matrix.custom.html', formatted_body: '<p>a &lt;b&gt;</p><p>c</p>' },
    ]);
    const urls = seen.map((x) => x.url);
    for (const url of urls) expect(url).toMatch(new RegExp(`^${V3}/rooms/${R}/send/m\\.room\\.message/[A-Za-z0-9_-]+\\.[0-9a-z]+$`));
    expect(new Set(urls).size).toBe(4);
    expect(seen.every((x) => x.auth === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('reply relates to the event and mentions its sender', async () => {
    notEncrypted(ROOM);
    const seen = serve('PUT', [200, { event_id: '$r' }]);
    const event = { room_id: ROOM, event_id: EV, sender: BOB, content: { msgtype: 'm.text', body: 'q' } };
    await expect(session().rooms.reply(event, 'answer')).resolves.toEqual({ event_id: '$r' });
    expect(seen[0].url).toMatch(new RegExp(`^${V3}/rooms/${R}/send/m\\.room\\.message/`));
    expect(seen[0].body).toEqual({
      msgtype: 'm.text',
      body: 'answer',
      'm.relates_to': { 'm.in_reply_to': { event_id: EV } },
      'm.mentions': { user_ids: [BOB] },
    });
  });

  it('a reply to our own event mentions nobody', async () => {
    notEncrypted(ROOM);
    const seen = serve('PUT', [200, { event_id: '$r' }]);
    await session().rooms.reply({ room_id: ROOM, event_id: EV, sender: ME }, 'note to self');
    expect((seen[0].body as Record<string, unknown>)['m.mentions']).toEqual({});
  });

  it('react sends an m.reaction annotation', async () => {
    notEncrypted(ROOM);
    const seen = serve('PUT', [200, { event_id: '$x' }]);
    await expect(session().rooms.react({ room_id: ROOM, event_id: EV }, '👍')).resolves.toEqual({ event_id: '$x' });
    expect(seen[0].url).toMatch(new RegExp(`^${V3}/rooms/${R}/send/m\\.reaction/`));
    expect(seen[0].body).toEqual({ 'm.relates_to': { rel_type: 'm.annotation', event_id: EV, key: '👍' } });
  });

  it('setTyping needs the user ID', async () => {
    const seen = serve('PUT', [200, {}]);
    await expect(session(true, { userId: undefined }).rooms.setTyping(ROOM, true)).rejects.toBeInstanceOf(NotLoggedInError);
    expect(seen).toEqual([]);
  });
});
