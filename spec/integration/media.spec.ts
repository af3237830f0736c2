// session.media and the media send helpers against the real Synapse: bodies of every kind and
// size byte for byte, progress, an aborted upload, maxBytes, thumbnails, the asynchronous
// upload, the upload limit, and an image (plain and encrypted) from one user to another.
// Synapse runs with max_upload_size = MAX_UPLOAD_SIZE (41 MiB, spec/harness/synapse.ts).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortError,
  AttachmentHashError,
  CryptoNotStartedError,
  MatrixSession,
  MediaTooLargeError,
  ResponseTooLargeError,
  encryptAttachment,
  type EncryptedFile,
} from '../../lib';
import { imageHeader } from '../../lib/media/image-info';
import type { ClientEvent } from '../../lib/types';
import { registerWithSharedSecret } from '../harness/admin';
import { makePng } from '../helpers/png';
import { itEnv, uniqueName } from '../harness/env';
import { cleanUp as cleanUpCrypto, cryptoUser, encryptedPair, inbox } from './crypto-helpers';
import { catchError, eventually, newUser, PASSWORD } from './helpers';

const MiB = 1024 * 1024;
const LIMIT = 41 * MiB; // MAX_UPLOAD_SIZE of the harness
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function sha256Of(stream: Readable): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), bytes };
}

/** A stream of `buf` in 1 MiB chunks. */
const streamOf = (buf: Buffer, chunk = MiB) =>
  Readable.from(
    (function* () {
      for (let at = 0; at < buf.length; at += chunk) yield buf.subarray(at, at + chunk);
    })(),
  );

/** What a progress listener saw: every (sent, total) pair, in order. */
function progressLog() {
  const events: Array<[number, number]> = [];
  return { events, onProgress: (sent: number, total: number) => void events.push([sent, total]) };
}

function expectProgress(events: Array<[number, number]>, total: number): void {
  expect(events.length).toBeGreaterThan(0);
  for (let i = 1; i < events.length; i++) expect(events[i][0]).toBeGreaterThan(events[i - 1][0]);
  expect(events.every(([, t]) => t === total)).toBe(true);
  expect(events[events.length - 1][0]).toBe(total);
  // At least one event per 64 KiB (the rule's byte half; chunks here never wait 250 ms).
  let previous = 0;
  for (const [sent] of events) {
    expect(sent - previous).toBeLessThanOrEqual(64 * 1024);
    previous = sent;
  }
}

/** A session that logs its request lines, to show what did (not) go out. */
async function loggedUser(prefix: string): Promise<{ s: MatrixSession; lines: string[] }> {
  const lines: string[] = [];
  const s = track(await newUser(prefix, { logger: (l) => lines.push(l) }));
  return { s, lines };
}

const dir = mkdtempSync(join(tmpdir(), 'media-it-'));
/** Every session the file makes, closed at the end (their keep-alive sockets would outlive the run). */
const sessions: MatrixSession[] = [];
const track = <S extends MatrixSession>(s: S): S => (sessions.push(s), s);
afterAll(async () => {
  await cleanUpCrypto();
  await Promise.all(sessions.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('media (Synapse)', () => {
  let alice: MatrixSession;
  let bob: MatrixSession;

  beforeAll(async () => {
    [alice, bob] = (await Promise.all([newUser('alice'), newUser('bob')])).map(track);
  });

  describe('upload and download, byte for byte', () => {
    const sizes = [0, 1, 5 * MiB, 40 * MiB];

    it.each(sizes)('a Buffer of %i bytes, back with downloadBuffer; progress monotonic to the total', async (size) => {
      const data = randomBytes(size);
      const { events, onProgress } = progressLog();
      const mxc = await alice.media.upload(data, { contentType: 'application/x-test', filename: 'b.bin', onProgress });
      expect(mxc).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);
      expectProgress(events, size);
      const got = await bob.media.downloadBuffer(mxc, { maxBytes: 64 * MiB });
      expect(got.data.length).toBe(size);
      expect(sha256(got.data)).toBe(sha256(data));
      expect(got.contentType).toBe('application/x-test');
      expect(got.contentLength).toBe(size);
      expect(got.filename).toBe('b.bin');
    });

    it.each(sizes)('a Readable of %i bytes (40 MiB with its size: streamed; the others buffered), back as a stream', async (size) => {
      const data = randomBytes(size);
      const { events, onProgress } = progressLog();
      const big = size === 40 * MiB;
      const mxc = await alice.media.upload(streamOf(data), { size: big ? size : undefined, onProgress });
      expectProgress(events, size);
      const dl = await bob.media.download(mxc, { maxBytes: 64 * MiB });
      expect(dl.contentLength).toBe(size);
      expect(await sha256Of(dl.stream)).toEqual({ hash: sha256(data), bytes: size });
    });

    it.each(sizes)('a file of %i bytes, back with downloadToFile (no temporary file left)', async (size) => {
      const data = randomBytes(size);
      const src = join(dir, `up-${size}.bin`);
      writeFileSync(src, data);
      const { events, onProgress } = progressLog();
      const mxc = await alice.media.upload(src, { filename: 'ü name.bin', onProgress });
      expectProgress(events, size);
      const out = join(dir, `down-${size}.bin`);
      const saved = await bob.media.downloadToFile(mxc, out, { maxBytes: 64 * MiB });
      expect(saved).toMatchObject({ path: out, bytes: size, filename: 'ü name.bin' });
      expect(statSync(out).size).toBe(size);
      expect(sha256(readFileSync(out))).toBe(sha256(data));
      expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
      rmSync(src);
      rmSync(out);
    });
  });

  it('a factory body: opened for the upload, the bytes arrive whole', async () => {
    const data = randomBytes(300 * 1024);
    const src = join(dir, 'factory.bin');
    writeFileSync(src, data);
    let opened = 0;
    const mxc = await alice.media.upload(() => (opened++, createReadStream(src)), { size: data.length });
    expect(opened).toBe(1);
    expect(sha256((await alice.media.downloadBuffer(mxc)).data)).toBe(sha256(data));
  });

  it('config reports the run’s max_upload_size, and uploadLimit takes it', async () => {
    expect((await alice.media.config())['m.upload.size']).toBe(LIMIT);
    expect(await alice.media.uploadLimit()).toBe(LIMIT);
  });

  it('an upload over the limit is refused before it is sent: no upload request leaves', async () => {
    const { s, lines } = await loggedUser('big');
    let opened = false;
    const factory = () => ((opened = true), Readable.from([Buffer.alloc(1)]));
    const e = await s.media.upload(factory, { size: LIMIT + 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MediaTooLargeError);
    expect(e).toMatchObject({ limitBytes: LIMIT, sizeBytes: LIMIT + 1 });
    expect(opened).toBe(false);
    const big = Buffer.alloc(LIMIT + 1);
    await expect(s.media.upload(big)).rejects.toBeInstanceOf(MediaTooLargeError);
    // A stream of unknown length is buffered only up to the limit, then refused.
    await expect(s.media.upload(streamOf(big))).rejects.toMatchObject({ name: 'MediaTooLargeError', limitBytes: LIMIT });
    const sent = lines.filter((l) => l.startsWith('->'));
    expect(sent.some((l) => l.includes('/upload'))).toBe(false);
    expect(sent.filter((l) => l.includes('/media/config'))).toHaveLength(1); // the config is cached
  });

  it('an aborted upload leaves nothing: the user’s media list stays empty (admin API), then one that completes is listed', async () => {
    const { env, admin } = await adminSession();
    const s = track(await newUser('abort'));
    const listed = async () => {
      const res = await fetch(`${env.baseUrl}/_synapse/admin/v1/users/${encodeURIComponent(s.userId!)}/media`, {
        headers: { Authorization: `Bearer ${admin}` },
      });
      return ((await res.json()) as { total: number }).total;
    };
    const controller = new AbortController();
    const total = 8 * MiB;
    // 256 KiB every 20 ms: the abort lands in the middle of the body.
    const slow = Readable.from(
      (async function* () {
        for (let sent = 0; sent < total; sent += 256 * 1024) {
          yield randomBytes(256 * 1024);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    );
    const upload = s.media.upload(slow, {
      size: total,
      signal: controller.signal,
      onProgress: (sent) => sent >= MiB && controller.abort(),
    });
    await expect(upload).rejects.toBeInstanceOf(AbortError);
    // Synapse only stores a body it received whole; give it time to see the closed connection.
    await new Promise((r) => setTimeout(r, 500));
    expect(await listed()).toBe(0);
    await s.media.upload(Buffer.from('done'));
    expect(await listed()).toBe(1);
  });

  it('an asynchronous upload aborted half-way never resolves: its URI answers 504 M_NOT_YET_UPLOADED', async () => {
    const mxc = await alice.media.createUri();
    const controller = new AbortController();
    const slow = Readable.from(
      (async function* () {
        for (;;) {
          yield Buffer.alloc(128 * 1024, 7);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    );
    const put = alice.media.uploadTo(mxc, slow, { size: 16 * MiB, signal: controller.signal, onProgress: (n) => n >= 512 * 1024 && controller.abort() });
    await expect(put).rejects.toBeInstanceOf(AbortError);
    const e = await catchError(bob.media.download(mxc, { waitForUploadMs: 500 }));
    expect(e).toMatchObject({ httpStatus: 504, errcode: 'M_NOT_YET_UPLOADED' });
  });

  it('createUri + uploadTo: the reserved URI serves the bytes; a second upload to it is refused (409)', async () => {
    const mxc = await alice.media.createUri();
    expect(mxc).toMatch(/^mxc:\/\/localhost\//);
    const data = randomBytes(200 * 1024);
    const { events, onProgress } = progressLog();
    await alice.media.uploadTo(mxc, data, { contentType: 'image/x-raw', filename: 'late.raw', onProgress });
    expectProgress(events, data.length);
    const got = await bob.media.downloadBuffer(mxc);
    expect(sha256(got.data)).toBe(sha256(data));
    expect(got.contentType).toBe('image/x-raw');
    const again = await catchError(alice.media.uploadTo(mxc, Buffer.from('x')));
    expect(again.httpStatus).toBe(409);
    expect(again.errcode).toBe('M_CANNOT_OVERWRITE_MEDIA');
  });

  it('maxBytes: a 5 MiB file is refused from its Content-Length, before its body is read', async () => {
    const mxc = await alice.media.upload(randomBytes(5 * MiB));
    const e = await bob.media.download(mxc, { maxBytes: MiB }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ResponseTooLargeError);
    expect((e as ResponseTooLargeError).limitBytes).toBe(MiB);
    // Exactly the limit is accepted.
    const exact = await alice.media.upload(randomBytes(MiB));
    expect((await bob.media.downloadBuffer(exact, { maxBytes: MiB })).data.length).toBe(MiB);
  });

  it('a thumbnail of an uploaded PNG (made with node:zlib) is an image of the size asked for', async () => {
    const png = makePng(120, 90);
    expect(imageHeader(png)).toEqual({ mimetype: 'image/png', w: 120, h: 90 });
    const mxc = await alice.media.upload(png, { contentType: 'image/png' });
    const crop = await bob.media.thumbnail(mxc, { width: 32, height: 32, method: 'crop' });
    expect(crop.contentType).toMatch(/^image\/(png|jpeg)$/);
    const bytes = (await sha256Of(crop.stream)).bytes;
    expect(bytes).toBeGreaterThan(0);
    const again = await bob.media.thumbnail(mxc, { width: 32, height: 32, method: 'crop' });
    const chunks: Buffer[] = [];
    for await (const c of again.stream) chunks.push(c as Buffer);
    expect(imageHeader(Buffer.concat(chunks))).toMatchObject({ w: 32, h: 32 });
    // Not an image: the server cannot thumbnail it.
    const text = await alice.media.upload(Buffer.from('not an image'), { contentType: 'text/plain' });
    const e = await catchError(bob.media.thumbnail(text, { width: 32, height: 32 }));
    expect([400, 404]).toContain(e.httpStatus);
  });

  it('unknown media: 404 M_NOT_FOUND; a bad URI: ValidationError before any request', async () => {
    const e = await catchError(bob.media.download('mxc://localhost/doesNotExist123'));
    expect(e).toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });
    await expect(bob.media.download('mxc://localhost/../x')).rejects.toMatchObject({ name: 'ValidationError', parameter: 'mxc' });
  });

  it('previewUrl with previews off (this Synapse): a MatrixError from the authenticated endpoint', async () => {
    const e = await catchError(alice.media.previewUrl('https://example.org/'));
    expect(e.httpStatus).toBeGreaterThanOrEqual(400);
    expect(e.path).toBe('/_matrix/client/v1/media/preview_url');
  });

  it('downloadUrl needs the Authorization header: without it 401, with it the bytes', async () => {
    const data = Buffer.from('display me');
    const mxc = await alice.media.upload(data);
    const url = bob.media.downloadUrl(mxc);
    expect(url).toContain('/_matrix/client/v1/media/download/localhost/');
    expect(url).not.toContain(bob.getAccessToken()!);
    expect((await fetch(url)).status).toBe(401);
    const res = await fetch(url, { headers: { Authorization: `Bearer ${bob.getAccessToken()}` } });
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  describe('sending media', () => {
    let roomId: string;

    beforeAll(async () => {
      ({ room_id: roomId } = await alice.rooms.create({ invite: [bob.userId!] }));
      await bob.rooms.join(roomId);
    });

    async function received(eventId: string): Promise<ClientEvent> {
      return eventually(async () => {
        const page = await bob.rooms.messages(roomId, { limit: 20, filter: { types: ['m.room.message'] } });
        return page.chunk.find((e) => e.event_id === eventId);
      });
    }

    it('an image sent by alice (size read from the PNG) is downloaded by bob from the event he receives', async () => {
      const png = makePng(64, 48);
      const thumb = makePng(16, 12);
      const sent = await alice.rooms.sendImage(roomId, png, { filename: 'pic.png', thumbnail: { data: thumb } });
      expect(await alice.rooms.isEncrypted(roomId)).toBe(false);
      const event = await received(sent.event_id);
      const content = event.content as Record<string, any>;
      expect(content).toMatchObject({
        msgtype: 'm.image',
        body: 'pic.png',
        info: { mimetype: 'image/png', size: png.length, w: 64, h: 48, thumbnail_info: { mimetype: 'image/png', size: thumb.length, w: 16, h: 12 } },
      });
      expect(content.file).toBeUndefined();
      expect(sha256((await bob.media.downloadBuffer(content.url)).data)).toBe(sha256(png));
      expect(sha256((await bob.media.downloadBuffer(content.info.thumbnail_url)).data)).toBe(sha256(thumb));
    });

    it('a file from a path, with a caption; a voice message; an emote and an edit', async () => {
      const src = join(dir, 'notes.txt');
      writeFileSync(src, 'some notes\n');
      const file = await alice.rooms.sendFile(roomId, src, { caption: 'My notes' });
      expect((await received(file.event_id)).content).toMatchObject({
        msgtype: 'm.file',
        body: 'My notes',
        filename: 'notes.txt',
        info: { mimetype: 'text/plain', size: 11 },
      });
      const voice = await alice.rooms.sendVoice(roomId, Buffer.from('OggS fake'), { duration: 1500, waveform: [0, 512, 1024] });
      expect((await received(voice.event_id)).content).toMatchObject({
        msgtype: 'm.audio',
        'org.matrix.msc3245.voice': {},
        'org.matrix.msc1767.audio': { duration: 1500, waveform: [0, 512, 1024] },
        info: { duration: 1500, mimetype: 'audio/ogg', size: 9 },
      });
      const emote = await alice.rooms.sendEmote(roomId, 'waves');
      expect((await received(emote.event_id)).content).toEqual({ msgtype: 'm.emote', body: 'waves' });
      const original = await alice.rooms.sendText(roomId, 'helo');
      const edit = await alice.rooms.edit({ room_id: roomId, event_id: original.event_id }, 'hello');
      expect((await received(edit.event_id)).content).toMatchObject({
        body: '* hello',
        'm.new_content': { msgtype: 'm.text', body: 'hello' },
        'm.relates_to': { rel_type: 'm.replace', event_id: original.event_id },
      });
      rmSync(src);
    });

    it('in an encrypted room (encryption started on both sides), the image goes up encrypted and bob decrypts event and file; a wrong hash is refused', async () => {
      const [carol, dave] = [await cryptoUser('carol'), await cryptoUser('dave')];
      const encryptedRoom = await encryptedPair(carol, dave);
      const atDave = inbox(dave, encryptedRoom);
      const png = makePng(40, 30);
      const thumb = makePng(8, 6);
      const sent = await carol.rooms.sendImage(encryptedRoom, png, { thumbnail: { data: thumb } });

      // Dave's loop hands over the decrypted event; its content points at encrypted files.
      const event = await atDave.waitFor((e) => e.event_id === sent.event_id);
      expect(event.encryption).toMatchObject({ senderDevice: carol.deviceId });
      const content = event.content as Record<string, any>;
      expect(content.url).toBeUndefined();
      expect(content.info.thumbnail_url).toBeUndefined();
      expect(content).toMatchObject({ msgtype: 'm.image', info: { mimetype: 'image/png', w: 40, h: 30, size: png.length } });
      const file = content.file as EncryptedFile;
      expect(file).toMatchObject({ v: 'v2', key: { alg: 'A256CTR', kty: 'oct', ext: true } });
      // The server holds ciphertext only: the event, and the file.
      const stored = (await dave.rooms.messages(encryptedRoom, { limit: 20 })).chunk.find((e) => e.event_id === sent.event_id)!;
      expect(stored.type).toBe('m.room.encrypted');
      const raw = await dave.media.downloadBuffer(file.url);
      expect(raw.data.equals(png)).toBe(false);
      expect(raw.data.length).toBe(png.length);
      expect(sha256((await dave.media.downloadBuffer(file)).data)).toBe(sha256(png));
      expect(sha256((await dave.media.downloadBuffer(content.info.thumbnail_file)).data)).toBe(sha256(thumb));
      // Another attachment's hash: refused, and downloadToFile leaves no file.
      const other = encryptAttachment(Buffer.from('other'));
      const forged = { ...file, hashes: other.info.hashes };
      await expect(dave.media.downloadBuffer(forged)).rejects.toBeInstanceOf(AttachmentHashError);
      const out = join(dir, 'forged.png');
      await expect(dave.media.downloadToFile(forged, out)).rejects.toBeInstanceOf(AttachmentHashError);
      expect(readdirSync(dir).filter((f) => f.startsWith('.forged') || f === 'forged.png')).toEqual([]);
    });

    it('into an encrypted room without encryption started, an image is refused before anything is uploaded', async () => {
      const { env, admin } = await adminSession();
      const eve = await cryptoUser('eve');
      const plain = track(await newUser('plain'));
      const { room_id: encryptedRoom } = await eve.rooms.create({ invite: [plain.userId!], encrypted: true });
      await plain.rooms.join(encryptedRoom);
      await expect(plain.rooms.sendImage(encryptedRoom, makePng(4, 4))).rejects.toBeInstanceOf(CryptoNotStartedError);
      const listed = await fetch(`${env.baseUrl}/_synapse/admin/v1/users/${encodeURIComponent(plain.userId!)}/media`, { headers: { Authorization: `Bearer ${admin}` } });
      expect(((await listed.json()) as { total: number }).total).toBe(0);
    });
  });
});

/** A server admin's access token (registered with the shared secret). */
async function adminSession() {
  const env = itEnv();
  const user = await registerWithSharedSecret(env.baseUrl, env.sharedSecret, { username: uniqueName('admin'), password: PASSWORD, admin: true });
  return { env, admin: user.access_token };
}

