// The media send helpers (rooms.sendImage, sendFile, sendVideo, sendAudio, sendVoice) and
// sendEmote / edit: the exact event contents sent, the uploads they make, the one encryption
// decision they ask, and bad input refused before any request.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { deflateSync } from 'node:zlib';
import nock from 'nock';
import type { MatrixSession } from '../../lib';
import { BASE, expectInvalid, guardNock, notEncrypted, session } from '../helpers/fixtures';

guardNock();

const ROOM = '!room:example.org';
const R = '!room%3Aexample.org';
const SEND = new RegExp(`^/_matrix/client/v3/rooms/${R.replace(/[!%]/g, (c) => `\\${c}`)}/send/m\\.room\\.message/[^/]+$`);
const ENCRYPTION_STATE = `/_matrix/client/v3/rooms/${R}/state/m.room.encryption/`;
const UPLOAD = '/_matrix/media/v3/upload';

/** A tiny but real PNG header of w×h (the helpers only read the header). */
function png(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(w, 8);
  ihdr.writeUInt32BE(h, 12);
  ihdr.set([8, 2, 0, 0, 0], 16);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr, deflateSync(Buffer.alloc(10))]);
}

/** Primes: the room is not encrypted, /versions, a config without a limit. */
function plainRoom() {
  nock(BASE).get(ENCRYPTION_STATE).reply(404, { errcode: 'M_NOT_FOUND', error: 'Event not found.' });
  nock(BASE).get('/_matrix/client/versions').reply(200, { versions: ['v1.11'] });
  nock(BASE).get('/_matrix/client/v1/media/config').reply(200, {});
}

/** Answers the next upload with `mxc`, checking its Content-Type and filename. */
function upload(mxc: string, contentType: string, filename?: string) {
  return nock(BASE, { reqheaders: { 'content-type': contentType } })
    .post(UPLOAD)
    .query(filename === undefined ? (q) => Object.keys(q).length === 0 : { filename })
    .reply(200, { content_uri: mxc });
}

/** Answers the send, recording its body. */
function send(): { body?: Record<string, unknown> } {
  const seen: { body?: Record<string, unknown> } = {};
  nock(BASE)
    .put(SEND)
    .reply(200, (_uri, body) => {
      seen.body = body as Record<string, unknown>;
      return { event_id: '$sent' };
    });
  return seen;
}

const dir = mkdtempSync(join(tmpdir(), 'media-send-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let s: MatrixSession;
beforeEach(() => (s = session()));

describe('event contents of the send helpers (a room that is not encrypted)', () => {
  it('sendImage: m.image with mimetype, size, w and h read from the PNG; the file name as the body', async () => {
    const image = png(640, 480);
    plainRoom();
    upload('mxc://example.org/img', 'image/png', 'image.png');
    const sent = send();
    const res = await s.rooms.sendImage(ROOM, image);
    const content = { msgtype: 'm.image', body: 'image.png', url: 'mxc://example.org/img', info: { mimetype: 'image/png', size: image.length, w: 640, h: 480 } };
    expect(sent.body).toEqual(content);
    expect(res).toEqual({ event_id: '$sent', content });
  });

  it('sendImage with a caption, a file name, given dimensions and a thumbnail (uploaded first, referenced in info)', async () => {
    const image = png(10, 10);
    const thumb = png(4, 3);
    plainRoom();
    upload('mxc://example.org/img', 'image/png', 'cat.png');
    upload('mxc://example.org/thumb', 'image/png');
    const sent = send();
    await s.rooms.sendImage(ROOM, image, { caption: 'My cat', filename: 'cat.png', w: 2000, h: 1000, thumbnail: { data: thumb } });
    expect(sent.body).toEqual({
      msgtype: 'm.image',
      body: 'My cat',
      filename: 'cat.png',
      url: 'mxc://example.org/img',
      info: {
        mimetype: 'image/png',
        size: image.length,
        w: 2000,
        h: 1000,
        thumbnail_url: 'mxc://example.org/thumb',
        thumbnail_info: { mimetype: 'image/png', size: thumb.length, w: 4, h: 3 },
      },
    });
  });

  it('sendFile from a path: the base name, the mimetype from its extension, no dimensions even for an image', async () => {
    const file = join(dir, 'report.pdf');
    writeFileSync(file, '%PDF-1.4 fake');
    plainRoom();
    upload('mxc://example.org/pdf', 'application/pdf', 'report.pdf');
    const sent = send();
    await s.rooms.sendFile(ROOM, file);
    expect(sent.body).toEqual({ msgtype: 'm.file', body: 'report.pdf', url: 'mxc://example.org/pdf', info: { mimetype: 'application/pdf', size: 13 } });
    plainRoom();
    upload('mxc://example.org/p2', 'image/png', 'file.png');
    const again = send();
    await session().rooms.sendFile(ROOM, png(5, 5));
    expect(again.body).toMatchObject({ msgtype: 'm.file', info: { mimetype: 'image/png' } });
    expect((again.body!.info as Record<string, unknown>).w).toBeUndefined();
  });

  it('sendFile of a stream with its size: unknown type is application/octet-stream', async () => {
    plainRoom();
    upload('mxc://example.org/bin', 'application/octet-stream', 'file.bin');
    const sent = send();
    await s.rooms.sendFile(ROOM, Readable.from([Buffer.from('abc'), Buffer.from('def')]), { size: 6 });
    expect(sent.body).toEqual({ msgtype: 'm.file', body: 'file.bin', url: 'mxc://example.org/bin', info: { mimetype: 'application/octet-stream', size: 6 } });
  });

  it('sendVideo: w, h, duration and a thumbnail as given', async () => {
    plainRoom();
    upload('mxc://example.org/vid', 'video/mp4', 'clip.mp4');
    upload('mxc://example.org/vthumb', 'image/jpeg');
    const sent = send();
    await s.rooms.sendVideo(ROOM, Buffer.from('mp4 bytes'), {
      filename: 'clip.mp4',
      w: 1280,
      h: 720,
      duration: 12_000,
      thumbnail: { data: Buffer.from('jpeg'), contentType: 'image/jpeg', w: 320, h: 180 },
    });
    expect(sent.body).toEqual({
      msgtype: 'm.video',
      body: 'clip.mp4',
      url: 'mxc://example.org/vid',
      info: {
        mimetype: 'video/mp4',
        size: 9,
        w: 1280,
        h: 720,
        duration: 12_000,
        thumbnail_url: 'mxc://example.org/vthumb',
        thumbnail_info: { mimetype: 'image/jpeg', size: 4, w: 320, h: 180 },
      },
    });
  });

  it('sendAudio: the duration and a given type', async () => {
    plainRoom();
    upload('mxc://example.org/aud', 'audio/mpeg', 'song.mp3');
    const sent = send();
    await s.rooms.sendAudio(ROOM, Buffer.from('mp3'), { filename: 'song.mp3', contentType: 'audio/mpeg', duration: 180_000 });
    expect(sent.body).toEqual({ msgtype: 'm.audio', body: 'song.mp3', url: 'mxc://example.org/aud', info: { mimetype: 'audio/mpeg', size: 3, duration: 180_000 } });
  });

  it('sendVoice: what Element sends (m.audio, org.matrix.msc3245.voice, the MSC1767 text/file/audio blocks)', async () => {
    plainRoom();
    upload('mxc://example.org/voice', 'audio/ogg', 'Voice message.ogg');
    const sent = send();
    await s.rooms.sendVoice(ROOM, Buffer.from('OggS'), { duration: 2140, waveform: [0, 100, 1024] });
    expect(sent.body).toEqual({
      msgtype: 'm.audio',
      body: 'Voice message',
      url: 'mxc://example.org/voice',
      info: { duration: 2140, mimetype: 'audio/ogg', size: 4 },
      'org.matrix.msc1767.text': 'Voice message',
      'org.matrix.msc1767.file': { url: 'mxc://example.org/voice', name: 'Voice message.ogg', mimetype: 'audio/ogg', size: 4 },
      'org.matrix.msc1767.audio': { duration: 2140, waveform: [0, 100, 1024] },
      'org.matrix.msc3245.voice': {},
    });
  });

  it('sendEmote and edit: m.emote; m.replace with m.new_content and the "* text" fallback', async () => {
    notEncrypted(ROOM);
    const emote = send();
    await s.rooms.sendEmote(ROOM, 'waves');
    expect(emote.body).toEqual({ msgtype: 'm.emote', body: 'waves' });
    const edit = send();
    await s.rooms.edit({ room_id: ROOM, event_id: '$orig', content: { msgtype: 'm.notice', body: 'old' } }, 'new text');
    expect(edit.body).toEqual({
      msgtype: 'm.notice',
      body: '* new text',
      'm.new_content': { msgtype: 'm.notice', body: 'new text' },
      'm.relates_to': { rel_type: 'm.replace', event_id: '$orig' },
    });
  });

  it('the transaction ID given is the one sent', async () => {
    plainRoom();
    upload('mxc://example.org/x', 'application/octet-stream', 'file.bin');
    nock(BASE).put(`/_matrix/client/v3/rooms/${R}/send/m.room.message/my-txn`).reply(200, { event_id: '$t' });
    await expect(s.rooms.sendFile(ROOM, Buffer.from('x'), { txnId: 'my-txn' })).resolves.toMatchObject({ event_id: '$t' });
  });

  it('a room whose encryption state cannot be read (403): the error, and nothing is uploaded', async () => {
    nock(BASE).get(ENCRYPTION_STATE).reply(403, { errcode: 'M_FORBIDDEN', error: 'not in room' });
    const e = await s.rooms.sendImage(ROOM, png(1, 1)).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'MatrixError', httpStatus: 403 });
  });

  it('isEncrypted: true for any m.room.encryption state (even a malformed one), false on 404 M_NOT_FOUND; asked once', async () => {
    nock(BASE).get(ENCRYPTION_STATE).reply(200, { algorithm: 'm.megolm.v1.aes-sha2' });
    await expect(s.rooms.isEncrypted(ROOM)).resolves.toBe(true);
    await expect(s.rooms.isEncrypted(ROOM)).resolves.toBe(true); // known now: no second request
    const odd = session();
    nock(BASE).get(ENCRYPTION_STATE).reply(200, { algorithm: 7 });
    await expect(odd.rooms.isEncrypted(ROOM)).resolves.toBe(true);
    // ...and a send there is refused rather than made in clear.
    await expect(odd.rooms.sendText(ROOM, 'x')).rejects.toMatchObject({ name: 'CryptoNotStartedError' });
    const plain = session();
    nock(BASE).get(ENCRYPTION_STATE).reply(404, { errcode: 'M_NOT_FOUND' });
    await expect(plain.rooms.isEncrypted(ROOM)).resolves.toBe(false);
  });
});

describe('bad input: a ValidationError before any request (the encryption state included)', () => {
  const image = png(1, 1);
  it.each([
    ['roomId', () => s.rooms.sendImage('room', image)],
    ['data', () => s.rooms.sendFile(ROOM, 5 as unknown as Buffer)],
    ['data', () => s.rooms.sendFile(ROOM, join(dir, 'missing'))],
    ['thumbnail.data', () => s.rooms.sendImage(ROOM, image, { thumbnail: { data: join(dir, 'missing') } })],
    ['duration', () => s.rooms.sendVoice(ROOM, image, {} as { duration: number })],
    ['duration', () => s.rooms.sendAudio(ROOM, image, { duration: -1 })],
    ['waveform[1]', () => s.rooms.sendVoice(ROOM, image, { duration: 1, waveform: [0, 2000] })],
    ['caption', () => s.rooms.sendImage(ROOM, image, { caption: 'x'.repeat(70_000) })],
    ['filename', () => s.rooms.sendImage(ROOM, image, { filename: '' })],
    ['contentType', () => s.rooms.sendImage(ROOM, image, { contentType: 'nope' })],
    ['w', () => s.rooms.sendImage(ROOM, image, { w: 0 })],
    ['thumbnail.h', () => s.rooms.sendImage(ROOM, image, { thumbnail: { data: image, h: 1.5 } })],
    ['txnId', () => s.rooms.sendImage(ROOM, image, { txnId: '' })],
    ['onProgress', () => s.rooms.sendImage(ROOM, image, { onProgress: 'x' as unknown as () => void })],
    ['newBody', () => s.rooms.edit({ room_id: ROOM, event_id: '$e' }, 5 as unknown as string)],
    ['event.event_id', () => s.rooms.edit({ room_id: ROOM, event_id: 'e' }, 'x')],
  ])('%s', async (parameter, call) => {
    await expectInvalid(call, parameter);
  });
});


