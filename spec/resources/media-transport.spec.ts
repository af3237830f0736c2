// Media uploads and downloads against stub servers on 127.0.0.1 that misbehave where only
// a hostile or broken server (or CDN) can: redirects to another origin, sizes that lie,
// bodies cut short or stalled, and retries of bodies that can or cannot be sent again.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortError,
  CryptoNotStartedError,
  BodyLengthError,
  ConnectionError,
  InvalidResponseError,
  MatrixError,
  MatrixSession,
  ResponseTooLargeError,
  TimeoutError,
  decryptAttachment,
  type SessionOptions,
} from '../../lib';
import { rejection } from '../helpers/transport-faults';
import { startStub, streamBody, truncatedReply, useRealSockets, type Stub, type StubHandler } from '../helpers/stub-server';

useRealSockets();

const TOKEN = 'media-secret-token-0123456789';
const MXC = 'mxc://hs.test/media1';
const DOWNLOAD = '/_matrix/client/v1/media/download/hs.test/media1';
const UPLOAD = '/_matrix/media/v3/upload';
const KiB = 1024;
const MiB = 1024 * KiB;

/** A session whose request core the specs may call directly. */
class TestSession extends MatrixSession {
  get raw() {
    return this.core;
  }
}

const stubs: Stub[] = [];
const sessions: MatrixSession[] = [];
const dir = mkdtempSync(join(tmpdir(), 'media-transport-'));
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Answers /versions (v1.11) and the media config itself; everything else goes to `handler`. */
async function homeserver(handler: StubHandler, options: Partial<SessionOptions> = {}, uploadSize?: number) {
  const server = await startStub((req, res, i, body) => {
    if (req.url === '/_matrix/client/versions') return json(res, 200, { versions: ['v1.11'] });
    if (req.url === '/_matrix/client/v1/media/config') return json(res, 200, uploadSize ? { 'm.upload.size': uploadSize } : {});
    handler(req, res, i, body);
  });
  stubs.push(server);
  const lines: string[] = [];
  const s = new TestSession({
    baseUrl: server.url,
    accessToken: TOKEN,
    userId: '@me:hs.test',
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    logger: (l) => lines.push(l),
    ...options,
  });
  sessions.push(s);
  /** The requests other than /versions and config. */
  const media = () => server.seen.filter((r) => !r.includes('/versions') && !r.includes('/media/config'));
  return { s, server, media, lines };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('redirects on downloads (307/308 to a CDN)', () => {
  it('are followed to another origin without the Authorization header; the first hop had it', async () => {
    const data = randomBytes(100 * KiB);
    const cdn = await startStub((_q, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(data.length) });
      res.end(data);
    });
    stubs.push(cdn);
    const { s, server } = await homeserver((_q, res) => {
      res.writeHead(307, { Location: `${cdn.url}/cdn/media1?sig=abc` });
      res.end();
    });
    const got = await s.media.downloadBuffer(MXC);
    expect(got.data.equals(data)).toBe(true);
    expect(got.contentType).toBe('image/png');
    const hop = server.seen.indexOf(`GET ${DOWNLOAD}`);
    expect(server.headers[hop].authorization).toBe(`Bearer ${TOKEN}`);
    expect(cdn.seen).toEqual(['GET /cdn/media1?sig=abc']);
    expect(cdn.headers[0].authorization).toBeUndefined();
    expect(JSON.stringify(cdn.headers[0])).not.toContain(TOKEN);
  });

  it('keep the header on the same origin (308 to another path), and drop it for good once it left', async () => {
    const other = await startStub((_q, res) => {
      res.writeHead(308, { Location: `${stubs[1].url}/back` });
      res.end();
    });
    stubs.push(other);
    const { s, server } = await homeserver((q, res) => {
      if (q.url === DOWNLOAD) {
        res.writeHead(308, { Location: '/moved' });
        return res.end();
      }
      if (q.url === '/moved') {
        res.writeHead(307, { Location: `${other.url}/away` });
        return res.end();
      }
      res.end('bytes');
    });
    expect((await s.media.downloadBuffer(MXC)).data.toString()).toBe('bytes');
    const auth = (path: string) => server.headers[server.seen.indexOf(`GET ${path}`)].authorization;
    expect(auth('/moved')).toBe(`Bearer ${TOKEN}`);
    expect(other.headers[0].authorization).toBeUndefined();
    // Back on the homeserver's origin after a foreign hop: still without the token.
    expect(auth('/back')).toBeUndefined();
  });

  it('are bounded: a redirect loop fails after 5 with an InvalidResponseError, not retried', async () => {
    const { s, media } = await homeserver((_q, res) => {
      res.writeHead(307, { Location: DOWNLOAD });
      res.end();
    });
    const e = await rejection(s.media.download(MXC));
    expect(e).toBeInstanceOf(InvalidResponseError);
    expect((e as InvalidResponseError).reason).toBe('more than 5 redirects');
    expect(media()).toHaveLength(6);
  });
});

describe('download sizes and broken bodies', () => {
  it('a Content-Length above maxBytes is refused before the body is read: the connection is closed at once', async () => {
    let outcome: ReturnType<typeof streamBody> | undefined;
    const { s, media } = await homeserver((_q, res) => (outcome = streamBody(res, 512 * MiB)));
    const e = await rejection(s.media.download(MXC, { maxBytes: MiB }));
    expect(e).toBeInstanceOf(ResponseTooLargeError);
    expect(e).toMatchObject({ limitBytes: MiB, path: DOWNLOAD });
    expect(await outcome!.closedEarly).toBe(true);
    expect(outcome!.written).toBeLessThan(64 * MiB);
    expect(media()).toHaveLength(1); // never retried
  });

  it('a chunked body (no Content-Length) that grows past maxBytes is cut with ResponseTooLargeError, and nothing above it is passed on', async () => {
    let closed = false;
    const { s } = await homeserver((_q, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.on('close', () => (closed = true));
      const chunk = Buffer.alloc(64 * KiB, 1);
      const pump = () => {
        while (!closed && res.write(chunk));
        if (!closed) res.once('drain', pump);
      };
      pump();
    });
    const { stream, contentLength } = await s.media.download(MXC, { maxBytes: 200 * KiB });
    expect(contentLength).toBeUndefined();
    let passed = 0;
    stream.on('data', (c: Buffer) => (passed += c.length));
    const e = await new Promise((resolve) => stream.on('error', resolve));
    expect(e).toBeInstanceOf(ResponseTooLargeError);
    expect(passed).toBeLessThanOrEqual(200 * KiB);
  });

  it('a body cut short of its Content-Length: the stream fails with ConnectionError ERR_RESPONSE_TRUNCATED', async () => {
    const { s } = await homeserver((_q, res) => truncatedReply(res, 'x'.repeat(1000), 5000));
    const { stream } = await s.media.download(MXC);
    const e = await rejection(consume(stream));
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e).toMatchObject({ code: 'ERR_RESPONSE_TRUNCATED', mayHaveReachedServer: true });
  });

  it('a server that sends more than its Content-Length: exactly the stated bytes are delivered', async () => {
    const { s } = await homeserver((_q, res) => {
      res.socket!.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello, and more bytes than promised');
      res.socket!.end();
    });
    expect((await s.media.downloadBuffer(MXC)).data.toString()).toBe('hello');
  });

  it('a body that stalls while it is read: TimeoutError from the stream (timeoutMs)', async () => {
    const { s } = await homeserver((_q, res) => {
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('x'.repeat(100)); // then nothing
    });
    const { stream } = await s.media.download(MXC, { timeoutMs: 100 });
    const e = await rejection(consume(stream));
    expect(e).toBeInstanceOf(TimeoutError);
  });

  it('the caller aborting mid-body, or closing the session, fails the stream with AbortError', async () => {
    const { s } = await homeserver((_q, res) => {
      res.writeHead(200, { 'Content-Length': String(10 * MiB) });
      res.write(Buffer.alloc(64 * KiB));
    });
    const controller = new AbortController();
    const first = await s.media.download(MXC, { signal: controller.signal });
    first.stream.once('data', () => controller.abort());
    expect(await rejection(consume(first.stream))).toBeInstanceOf(AbortError);
    const second = await s.media.download(MXC);
    second.stream.once('data', () => void s.close());
    expect(await rejection(consume(second.stream))).toBeInstanceOf(AbortError);
  });

  it('a 4xx/5xx JSON body on a download is a MatrixError; a 502 is retried (a GET), then the bytes come', async () => {
    let n = 0;
    const { s, media } = await homeserver((_q, res) => {
      n++;
      if (n === 2) return json(res, 502, { errcode: 'M_UNKNOWN', error: 'bad gateway' });
      if (n === 3) return res.end('fine');
      json(res, 403, { errcode: 'M_FORBIDDEN', error: `no (${TOKEN})` });
    });
    const e = await rejection(s.media.download(MXC, { maxRetries: 0 }));
    expect(e).toBeInstanceOf(MatrixError);
    expect(e).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN', error: 'no ([redacted])' });
    expect((await s.media.downloadBuffer(MXC)).data.toString()).toBe('fine');
    expect(media()).toHaveLength(3);
  });

  it('Content-Disposition: filename* (RFC 8187) preferred, reduced to a safe base name; malformed: none', async () => {
    const headers = [
      `attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`,
      'inline; filename="../../etc/passwd"',
      'attachment; filename="a\\\\b\\\\c.exe"',
      'attachment; filename=""',
      '; ; ;',
    ];
    const { s } = await homeserver((_q, res, i) => {
      res.writeHead(200, { 'Content-Disposition': headers[i - 1] });
      res.end('x');
    });
    const names = [];
    for (let i = 0; i < headers.length; i++) names.push((await s.media.downloadBuffer(MXC)).filename);
    expect(names).toEqual(['€ rates.txt', 'passwd', 'c.exe', undefined, undefined]);
  });

  it('downloadToFile: a failure midway removes the temporary file and leaves no destination', async () => {
    const { s } = await homeserver((_q, res) => truncatedReply(res, 'y'.repeat(2000), 9000));
    const out = join(dir, 'cut.bin');
    expect(await rejection(s.media.downloadToFile(MXC, out))).toMatchObject({ code: 'ERR_RESPONSE_TRUNCATED' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('uploads', () => {
  const ok = (res: ServerResponse) => json(res, 200, { content_uri: 'mxc://hs.test/up1' });

  it('send Content-Type, Content-Length and the token, and the exact bytes of a buffer, a file, a stream and a factory', async () => {
    const data = randomBytes(300 * KiB);
    const file = join(dir, 'up.bin');
    writeFileSync(file, data);
    const { s, server, media } = await homeserver((_q, res) => ok(res));
    await s.media.upload(data, { contentType: 'image/png' });
    await s.media.upload(file);
    await s.media.upload(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { size: data.length });
    await s.media.upload(() => createReadStream(file), { size: data.length });
    expect(media()).toEqual(Array(4).fill(`POST ${UPLOAD}`));
    const uploads = server.seen.map((r, i) => [r, i] as const).filter(([r]) => r.startsWith('POST'));
    for (const [, i] of uploads) {
      expect(sha(server.bodies[i])).toBe(sha(data));
      expect(server.headers[i]).toMatchObject({ 'content-length': String(data.length), authorization: `Bearer ${TOKEN}` });
      expect(server.headers[i]['transfer-encoding']).toBeUndefined();
    }
    expect(server.headers[uploads[0][1]]['content-type']).toBe('image/png');
    expect(server.headers[uploads[1][1]]['content-type']).toBe('application/octet-stream');
    rmSync(file);
  });

  it('a stream longer than its declared size: BodyLengthError, and the server never got a byte past the size', async () => {
    const { s, server, media } = await homeserver((_q, res) => ok(res));
    const e = await rejection(s.media.upload(Readable.from([Buffer.alloc(1000), Buffer.alloc(1000)]), { size: 1500 }));
    expect(e).toBeInstanceOf(BodyLengthError);
    expect(e).toMatchObject({ declaredBytes: 1500, actual: 'more' });
    await new Promise((r) => setTimeout(r, 50)); // the stub sees the connection close
    const i = server.seen.indexOf(`POST ${UPLOAD}`);
    expect(server.bodies[i].length).toBeLessThanOrEqual(1500);
    expect(server.complete[i]).toBe(false);
    expect(media()).toHaveLength(1);
  });

  it('a stream shorter than its declared size: BodyLengthError at once (not a timeout waiting for the rest)', async () => {
    const { s } = await homeserver((_q, res) => ok(res), { timeoutMs: 60_000 });
    const e = await rejection(s.media.upload(Readable.from([Buffer.alloc(10)]), { size: 11 }));
    expect(e).toMatchObject({ name: 'BodyLengthError', declaredBytes: 11, actual: 'fewer' });
  });

  it('after a 429, a buffer, a file and a factory are sent again whole; a one-shot stream is not (its bytes are gone)', async () => {
    const data = randomBytes(200 * KiB);
    const file = join(dir, 'retry.bin');
    writeFileSync(file, data);
    // Every other upload is answered 429 (after its body was read), the next one 200.
    let n = 0;
    const { s, server, media } = await homeserver((_q, res) =>
      n++ % 2 === 0 ? json(res, 429, { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 1 }) : ok(res),
    );
    const events: number[] = [];
    await expect(s.media.upload(data, { onProgress: (sent) => events.push(sent) })).resolves.toBe('mxc://hs.test/up1');
    await expect(s.media.upload(file)).resolves.toBe('mxc://hs.test/up1');
    let opened = 0;
    await expect(s.media.upload(() => (opened++, createReadStream(file)), { size: data.length })).resolves.toBe('mxc://hs.test/up1');
    expect(opened).toBe(2);
    expect(media()).toHaveLength(6);
    const bodies = server.seen.map((r, i) => [r, i] as const).filter(([r]) => r.startsWith('POST')).map(([, i]) => server.bodies[i]);
    expect(bodies.every((b) => b.equals(data))).toBe(true);
    // Progress over the two attempts of the buffer: monotonic, ending at the total.
    expect(events).toEqual([...events].sort((a, b) => a - b));
    expect(new Set(events).size).toBe(events.length);
    expect(events[events.length - 1]).toBe(data.length);

    const e = await rejection(s.media.upload(Readable.from([data]), { size: data.length }));
    expect(e).toMatchObject({ name: 'MatrixError', httpStatus: 429 });
    expect(media()).toHaveLength(7);
    rmSync(file);
  });

  it('a one-shot stream cut by the network is not repeated; a safe request with a factory is', async () => {
    let n = 0;
    const { s, media } = await homeserver((_q: IncomingMessage, res) => {
      if (n++ === 0) return void res.socket!.destroy();
      json(res, 200, { content_uri: 'mxc://hs.test/up2' });
    });
    const e = await rejection(s.media.upload(Readable.from([Buffer.alloc(5000)]), { size: 5000 }));
    expect(e).toBeInstanceOf(ConnectionError);
    expect(media()).toHaveLength(1);
    // The core with a safe raw body: the factory is reopened for the repeat.
    n = 0;
    let opened = 0;
    await expect(
      s.raw.request({
        method: 'PUT',
        path: '/_matrix/media/v3/upload/hs.test/x',
        idempotency: 'safe',
        rawBody: { data: () => (opened++, Readable.from([Buffer.alloc(5000)])), length: 5000 },
      }),
    ).resolves.toEqual({ content_uri: 'mxc://hs.test/up2' });
    expect(opened).toBe(2);
  });

  it('a 401 M_UNKNOWN_TOKEN on a one-shot stream: the token is refreshed for what follows, the 401 is thrown (the bytes are gone)', async () => {
    let refreshed = 0;
    const { s, media } = await homeserver(
      (q, res) => {
        if (q.url === '/_matrix/client/v3/refresh') {
          refreshed++;
          return json(res, 200, { access_token: 'new-access-token-0123456789', refresh_token: 'new-refresh-token-0123456789' });
        }
        if (q.headers.authorization === `Bearer ${TOKEN}`) return json(res, 401, { errcode: 'M_UNKNOWN_TOKEN', error: 'expired' });
        ok(res);
      },
      { refreshToken: 'old-refresh-token-0123456789' },
    );
    const e = await rejection(s.media.upload(Readable.from([Buffer.alloc(100)]), { size: 100 }));
    expect(e).toMatchObject({ name: 'MatrixError', httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN' });
    expect(refreshed).toBe(1);
    expect(s.getAccessToken()).toBe('new-access-token-0123456789');
    // A buffer is sent again with the new token.
    await expect(s.media.upload(Buffer.alloc(100))).resolves.toBe('mxc://hs.test/up1');
    expect(media().filter((r) => r.startsWith('POST /_matrix/media'))).toHaveLength(2);
  });

  it('a stream without a size is buffered up to the server’s limit, then refused before any upload request', async () => {
    const { s, media } = await homeserver((_q, res) => ok(res), {}, 64 * KiB);
    const small = Readable.from([Buffer.alloc(1000), Buffer.alloc(1000)]);
    await expect(s.media.upload(small)).resolves.toBe('mxc://hs.test/up1');
    const big = Readable.from((function* () { for (let i = 0; i < 100; i++) yield Buffer.alloc(KiB); })());
    expect(await rejection(s.media.upload(big))).toMatchObject({ name: 'MediaTooLargeError', limitBytes: 64 * KiB, sizeBytes: undefined });
    expect(media()).toEqual([`POST ${UPLOAD}`]);
  });

  it('a 413 from the server is a MatrixError and makes the next upload ask the config again', async () => {
    const { s, server } = await homeserver((_q, res) => json(res, 413, { errcode: 'M_TOO_LARGE', error: 'too big' }), {}, MiB);
    const e = await rejection(s.media.upload(Buffer.alloc(10)));
    expect(e).toMatchObject({ name: 'MatrixError', httpStatus: 413, errcode: 'M_TOO_LARGE' });
    await rejection(s.media.upload(Buffer.alloc(10)));
    expect(server.seen.filter((r) => r.includes('/media/config'))).toHaveLength(2);
  });

  it('a connection failure while the limit is asked for is thrown (not taken as "no limit"), and nothing is uploaded', async () => {
    const server = await startStub((req, res) => {
      if (req.url === '/_matrix/client/versions') return json(res, 200, { versions: ['v1.11'] });
      if (req.url === '/_matrix/client/v1/media/config') return void res.socket!.destroy();
      ok(res);
    });
    stubs.push(server);
    const s = new MatrixSession({ baseUrl: server.url, accessToken: TOKEN, maxRetries: 0 });
    sessions.push(s);
    expect(await rejection(s.media.upload(Buffer.from('x')))).toBeInstanceOf(ConnectionError);
    expect(server.seen.some((r) => r.startsWith('POST'))).toBe(false);
  });

  it('the token never appears in what a failed upload reports', async () => {
    const { s, lines } = await homeserver((_q, res) => json(res, 500, { errcode: 'M_UNKNOWN', error: `Bearer ${TOKEN}` }));
    const e = await rejection(s.media.upload(Buffer.from('x')));
    expect(JSON.stringify(e)).not.toContain(TOKEN);
    expect(String(e)).not.toContain(TOKEN);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });
});

describe('sending into an encrypted room', () => {
  const ROOM_PATH = '/_matrix/client/v3/rooms/!r%3Ahs.test';

  /**
   * The engine's part stubbed (it needs the wasm package and a real peer: the Synapse specs
   * cover it): it says it is running, and hands the event on unencrypted, so the test can read
   * the `file` the media helpers put in it. Returns the calls, to see they came first.
   */
  function engineStub(s: MatrixSession): string[] {
    const calls: string[] = [];
    jest.spyOn(s.crypto, 'ensureRunning').mockImplementation(async (roomId) => void calls.push(`ready ${roomId}`));
    jest.spyOn(s.crypto, 'wireEvent').mockImplementation(async (e) => (calls.push('encrypt event'), e));
    return calls;
  }

  it('the image and its thumbnail go up as ciphertext (no type, no name), the event holds file / thumbnail_file that decrypt them', async () => {
    const image = randomBytes(150 * KiB);
    const thumb = randomBytes(3 * KiB);
    let uploads = 0;
    let event: Record<string, any> | undefined;
    const { s, server } = await homeserver((q, res, _i, body) => {
      if (q.url === `${ROOM_PATH}/state/m.room.encryption/`) return json(res, 200, { algorithm: 'm.megolm.v1.aes-sha2' });
      if (q.method === 'POST') {
        // The first upload is refused once (429): its retry must bring the same ciphertext.
        if (++uploads === 1) return json(res, 429, { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 1 });
        return json(res, 200, { content_uri: `mxc://hs.test/enc${uploads}` });
      }
      event = JSON.parse(body.toString()) as Record<string, any>;
      json(res, 200, { event_id: '$e' });
    });
    const calls = engineStub(s);
    const sent = await s.rooms.sendImage('!r:hs.test', image, { contentType: 'image/webp', w: 10, h: 20, thumbnail: { data: thumb, contentType: 'image/jpeg' } });
    expect(sent.content).toEqual(event);
    expect(event!.url).toBeUndefined();
    expect(event!.info).toMatchObject({ mimetype: 'image/webp', size: image.length, w: 10, h: 20, thumbnail_info: { mimetype: 'image/jpeg', size: thumb.length } });
    expect(event!.info.thumbnail_url).toBeUndefined();
    const posts = server.seen.map((r, i) => [r, i] as const).filter(([r]) => r.startsWith('POST'));
    expect(posts.map(([r]) => r)).toEqual(Array(3).fill(`POST ${UPLOAD}`)); // no filename parameter
    for (const [, i] of posts) expect(server.headers[i]['content-type']).toBe('application/octet-stream');
    const [first, second, third] = posts.map(([, i]) => server.bodies[i]);
    expect(first.equals(second)).toBe(true);
    expect(second.equals(image)).toBe(false);
    expect(decryptAttachment(second, event!.file)).toEqual(image);
    expect(decryptAttachment(third, event!.info.thumbnail_file)).toEqual(thumb);
    expect(event!.file.url).toBe('mxc://hs.test/enc2');
    expect(event!.info.thumbnail_file.url).toBe('mxc://hs.test/enc3');
    expect(calls).toEqual(['ready !r:hs.test', 'encrypt event']);
  });

  it('with encryption not started, nothing is uploaded: CryptoNotStartedError before the first byte', async () => {
    const { s, media } = await homeserver((q, res) => {
      if (q.url === `${ROOM_PATH}/state/m.room.encryption/`) return json(res, 200, { algorithm: 'm.megolm.v1.aes-sha2' });
      json(res, 200, { content_uri: 'mxc://hs.test/never' });
    });
    expect(await rejection(s.rooms.sendImage('!r:hs.test', randomBytes(KiB)))).toBeInstanceOf(CryptoNotStartedError);
    expect(media()).toEqual([`GET ${ROOM_PATH}/state/m.room.encryption/`]);
  });

  it('a one-shot stream is encrypted as it goes up', async () => {
    const data = randomBytes(70 * KiB);
    let event: Record<string, any> | undefined;
    const { s, server } = await homeserver((q, res, _i, body) => {
      if (q.url?.includes('m.room.encryption')) return json(res, 200, { algorithm: 'm.megolm.v1.aes-sha2' });
      if (q.method === 'POST') return json(res, 200, { content_uri: 'mxc://hs.test/s1' });
      event = JSON.parse(body.toString()) as Record<string, any>;
      json(res, 200, { event_id: '$e' });
    });
    engineStub(s);
    await s.rooms.sendFile('!r:hs.test', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { size: data.length, filename: 'x.bin' });
    const i = server.seen.findIndex((r) => r.startsWith('POST'));
    expect(decryptAttachment(server.bodies[i], event!.file)).toEqual(data);
    expect(event).toMatchObject({ msgtype: 'm.file', body: 'x.bin', info: { size: data.length } });
  });
});

function consume(stream: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    stream.on('data', (c: Buffer) => (n += c.length));
    stream.on('end', () => resolve(n));
    stream.on('error', reject);
  });
}
