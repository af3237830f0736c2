import { newTxnId, RoomEvent } from '../../lib/builders/room-event';
import { encryptAttachment } from '../../lib/media/attachment';
import { expectThrowsInvalid } from '../helpers/fixtures';

const GOOD_FILE = { ...encryptAttachment(Buffer.from('x')).info, url: 'mxc://example.org/enc' };

const ROOM = '!room:example.org';
const EV = '$ev:example.org';
const BOB = '@bob:example.org';

describe('newTxnId', () => {
  it('is a random base64url prefix and a counter, never repeating', () => {
    const ids = Array.from({ length: 1000 }, newTxnId);
    expect(new Set(ids).size).toBe(1000);
    const [prefix] = ids[0].split('.');
    expect(prefix).toMatch(/^[A-Za-z0-9_-]{16}$/);
    for (const id of ids) expect(id).toMatch(new RegExp(`^${prefix}\\.[0-9a-z]+$`));
  });

  it('draws a new prefix in each process (module load)', () => {
    const first = newTxnId().split('.')[0];
    let second = '';
    jest.isolateModules(() => {
      second = (require('../../lib/builders/room-event') as typeof import('../../lib/builders/room-event')).newTxnId().split('.')[0];
    });
    expect(second).not.toBe(first);
  });
});

describe('RoomEvent', () => {
  it('text, notice and emote', () => {
    expect(RoomEvent.text(ROOM, 'hi', 't1')).toEqual({ roomId: ROOM, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' }, txnId: 't1' });
    expect(RoomEvent.notice(ROOM, 'n', 't2').content).toEqual({ msgtype: 'm.notice', body: 'n' });
    expect(RoomEvent.emote(ROOM, 'waves', 't3').content).toEqual({ msgtype: 'm.emote', body: 'waves' });
  });

  it('fixes a txnId at build time when none is given, a new one per event', () => {
    const a = RoomEvent.text(ROOM, 'a');
    const b = RoomEvent.text(ROOM, 'a');
    expect(a.txnId).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-z]+$/);
    expect(a.txnId).not.toBe(b.txnId);
  });

  it('keeps multi-line bodies', () => {
    expect(RoomEvent.text(ROOM, 'a\nb', 't').content.body).toBe('a\nb');
  });

  it('html, with a given plain body or one derived from the HTML', () => {
    expect(RoomEvent.html(ROOM, '<b>x</b>', 'x', 't').content).toEqual({
      msgtype: 'm.text',
      body: 'x',
      format: 'org.matrix.custom.html',
      formatted_body: '<b>x</b>',
    });
    expect(RoomEvent.html(ROOM, '<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p><p>line<br/>break</p>').content.body).toBe('1 < 2 && 3 > 2\nline\nbreak');
  });

  it('file and image', () => {
    const url = 'mxc://example.org/abcDEF_12-3';
    expect(RoomEvent.file(ROOM, { url, body: 'a.pdf', info: { mimetype: 'application/pdf', size: 10 } }, 't')).toEqual({
      roomId: ROOM,
      type: 'm.room.message',
      content: { msgtype: 'm.file', body: 'a.pdf', url, info: { mimetype: 'application/pdf', size: 10 } },
      txnId: 't',
    });
    expect(JSON.parse(JSON.stringify(RoomEvent.file(ROOM, { url, body: 'song', msgtype: 'm.audio' }).content))).toEqual({
      msgtype: 'm.audio',
      body: 'song',
      url,
    });
    expect(RoomEvent.image(ROOM, { url, body: 'cat.png', filename: 'cat.png', info: { w: 1, h: 2 } }).content).toMatchObject({
      msgtype: 'm.image',
      body: 'cat.png',
      filename: 'cat.png',
      url,
      info: { w: 1, h: 2 },
    });
  });

  it('reply: m.in_reply_to and a mention of the sender', () => {
    const ev = RoomEvent.reply({ room_id: ROOM, event_id: EV, sender: BOB, content: { body: 'q' } }, 'a', 't');
    expect(ev).toEqual({
      roomId: ROOM,
      type: 'm.room.message',
      txnId: 't',
      content: { msgtype: 'm.text', body: 'a', 'm.relates_to': { 'm.in_reply_to': { event_id: EV } }, 'm.mentions': { user_ids: [BOB] } },
    });
  });

  it('reply to an event in a thread stays in the thread', () => {
    const root = '$root:example.org';
    const ev = RoomEvent.reply(
      { room_id: ROOM, event_id: EV, sender: BOB, content: { body: 'q', 'm.relates_to': { rel_type: 'm.thread', event_id: root } } },
      'a',
    );
    expect(ev.content['m.relates_to']).toEqual({ rel_type: 'm.thread', event_id: root, is_falling_back: false, 'm.in_reply_to': { event_id: EV } });
  });

  it('reaction', () => {
    expect(RoomEvent.reaction({ room_id: ROOM, event_id: EV }, '👍️', 't')).toEqual({
      roomId: ROOM,
      type: 'm.reaction',
      txnId: 't',
      content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: EV, key: '👍️' } },
    });
  });

  it('video and audio; an encrypted file carries `file` instead of `url`, and `thumbnail_file`', () => {
    const url = 'mxc://example.org/v';
    expect(RoomEvent.video(ROOM, { url, body: 'clip.mp4', info: { w: 2, h: 1, duration: 5 } }, 't').content).toEqual({
      msgtype: 'm.video',
      body: 'clip.mp4',
      url,
      info: { w: 2, h: 1, duration: 5 },
    });
    expect(RoomEvent.audio(ROOM, { url, body: 'a.mp3' }).content).toEqual({ msgtype: 'm.audio', body: 'a.mp3', url });
    const { info } = encryptAttachment(Buffer.from('x'));
    const file = { ...info, url };
    const content = RoomEvent.image(ROOM, { file, body: 'secret.png', info: { thumbnail_file: file } }).content;
    expect(content).toEqual({ msgtype: 'm.image', body: 'secret.png', file, info: { thumbnail_file: file } });
    expect('url' in content).toBe(false);
  });

  it('voice: m.audio with the MSC3245 marker and MSC1767 blocks; defaults for body and file name', () => {
    expect(RoomEvent.voice(ROOM, { url: 'mxc://example.org/o', duration: 900 }, 't').content).toEqual({
      msgtype: 'm.audio',
      body: 'Voice message',
      url: 'mxc://example.org/o',
      info: { duration: 900 },
      'org.matrix.msc1767.text': 'Voice message',
      'org.matrix.msc1767.file': { url: 'mxc://example.org/o', name: 'Voice message.ogg' },
      'org.matrix.msc1767.audio': { duration: 900 },
      'org.matrix.msc3245.voice': {},
    });
  });

  it('edit: m.replace of the original, m.new_content, the "* " fallback; the msgtype kept for text kinds only', () => {
    expect(RoomEvent.edit({ room_id: ROOM, event_id: EV, content: { msgtype: 'm.emote', body: 'a' } }, 'b', 't')).toEqual({
      roomId: ROOM,
      type: 'm.room.message',
      txnId: 't',
      content: {
        msgtype: 'm.emote',
        body: '* b',
        'm.new_content': { msgtype: 'm.emote', body: 'b' },
        'm.relates_to': { rel_type: 'm.replace', event_id: EV },
      },
    });
    expect(RoomEvent.edit({ room_id: ROOM, event_id: EV, content: { msgtype: 'm.image' } }, 'c').content.msgtype).toBe('m.text');
    expect(RoomEvent.edit({ room_id: ROOM, event_id: EV }, 'c').content['m.new_content']).toEqual({ msgtype: 'm.text', body: 'c' });
  });

  it('custom', () => {
    expect(RoomEvent.custom(ROOM, 'org.example.ping', { n: 1 }, 't')).toEqual({ roomId: ROOM, type: 'org.example.ping', content: { n: 1 }, txnId: 't' });
  });

  it.each([
    ['roomId', () => RoomEvent.text('room', 'x')],
    ['roomId', () => RoomEvent.text('#alias:example.org', 'x')],
    ['body', () => RoomEvent.text(ROOM, '')],
    ['body', () => RoomEvent.notice(ROOM, 5 as never)],
    ['txnId', () => RoomEvent.emote(ROOM, 'x', '')],
    ['html', () => RoomEvent.html(ROOM, '')],
    ['plainBody', () => RoomEvent.html(ROOM, '<b>x</b>', 7 as never)],
    ['file', () => RoomEvent.file(ROOM, null as never)],
    ['file.url', () => RoomEvent.file(ROOM, { url: 'https://example.org/a.png', body: 'a' })],
    ['file.body', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: '' })],
    ['file.msgtype', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', msgtype: 'm.text' as 'm.file' })],
    ['file.info', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', info: 'big' as never })],
    ['image', () => RoomEvent.image(ROOM, undefined as never)],
    ['file', () => RoomEvent.file(ROOM, { body: 'no source' })],
    ['file', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', file: GOOD_FILE, body: 'both' })],
    ['file.file.v', () => RoomEvent.file(ROOM, { file: { ...GOOD_FILE, v: 'v1' as 'v2' }, body: 'a' })],
    ['file.info.size', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', info: { size: -1 } })],
    ['file.info.thumbnail_url', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', info: { thumbnail_url: 'http://x' } })],
    ['file.info', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', info: { thumbnail_url: 'mxc://example.org/t', thumbnail_file: GOOD_FILE } })],
    ['file.info.thumbnail_file.key', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', info: { thumbnail_file: { ...GOOD_FILE, key: null as never } } })],
    ['file.info.thumbnail_info', () => RoomEvent.file(ROOM, { url: 'mxc://example.org/a', body: 'a', info: { thumbnail_info: 1 as never } })],
    ['video', () => RoomEvent.video(ROOM, null as never)],
    ['audio', () => RoomEvent.audio(ROOM, 'x' as never)],
    ['voice', () => RoomEvent.voice(ROOM, null as never)],
    ['voice.duration', () => RoomEvent.voice(ROOM, { url: 'mxc://example.org/a' } as never)],
    ['voice.waveform[0]', () => RoomEvent.voice(ROOM, { url: 'mxc://example.org/a', duration: 1, waveform: [1025] })],
    ['voice.waveform', () => RoomEvent.voice(ROOM, { url: 'mxc://example.org/a', duration: 1, waveform: Array(5000).fill(0) })],
    ['voice.body', () => RoomEvent.voice(ROOM, { url: 'mxc://example.org/a', duration: 1, body: '' })],
    ['voice.filename', () => RoomEvent.voice(ROOM, { url: 'mxc://example.org/a', duration: 1, filename: 'x'.repeat(300) })],
    ['voice.size', () => RoomEvent.voice(ROOM, { url: 'mxc://example.org/a', duration: 1, size: 0.5 })],
    ['voice', () => RoomEvent.voice(ROOM, { duration: 1 })],
    ['event', () => RoomEvent.edit(null as never, 'x')],
    ['event.room_id', () => RoomEvent.edit({ room_id: 'r', event_id: EV }, 'x')],
    ['event.content', () => RoomEvent.edit({ room_id: ROOM, event_id: EV, content: [] as never }, 'x')],
    ['newBody', () => RoomEvent.edit({ room_id: ROOM, event_id: EV }, '')],
    ['event.room_id', () => RoomEvent.reply({ room_id: 'x', event_id: EV, sender: BOB }, 'a')],
    ['event.event_id', () => RoomEvent.reply({ room_id: ROOM, event_id: 'x', sender: BOB }, 'a')],
    ['event.sender', () => RoomEvent.reply({ room_id: ROOM, event_id: EV, sender: 'bob' }, 'a')],
    ['event.content', () => RoomEvent.reply({ room_id: ROOM, event_id: EV, sender: BOB, content: 'x' as never }, 'a')],
    ['key', () => RoomEvent.reaction({ room_id: ROOM, event_id: EV }, '')],
    ['event.event_id', () => RoomEvent.reaction({ room_id: ROOM, event_id: '' }, 'x')],
    ['type', () => RoomEvent.custom(ROOM, '', {})],
    ['content', () => RoomEvent.custom(ROOM, 'x.y', [] as never)],
  ])('rejects bad %s', (parameter, build) => expectThrowsInvalid(build, parameter));
});
