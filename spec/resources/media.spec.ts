// session.media: request shapes (paths for authenticated and legacy media, headers, query
// parameters), the /versions and config caches, and bad input refused before any request.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import {
  AttachmentHashError,
  InvalidResponseError,
  MatrixError,
  encryptAttachment,
  parseMxc,
  type EncryptedFile,
} from '../../lib';
import { AUTH, BASE, expectInvalid, guardNock, session, TOKEN } from '../helpers/fixtures';

guardNock();

const MXC = 'mxc://example.org/abcDEF_123-x';
const AUTHED = '/_matrix/client/v1/media';
const LEGACY = '/_matrix/media/v3';
const VERSIONS = '/_matrix/client/versions';

/** /versions, answered once: the session caches it. */
function versions(list: string[] = ['v1.11'], unstable: Record<string, unknown> = {}) {
  return nock(BASE).get(VERSIONS).reply(200, { versions: list, unstable_features: unstable });
}

function config(body: Record<string, unknown> = { 'm.upload.size': 1000 }) {
  return nock(BASE).get(`${AUTHED}/config`).reply(200, body);
}

const dir = mkdtempSync(join(tmpdir(), 'media-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('media.upload', () => {
  it('POSTs the bytes to /_matrix/media/v3/upload with filename, Content-Type, Content-Length and the token', async () => {
    versions();
    config();
    nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'image/png', 'content-length': '5' } })
      .post(`${LEGACY}/upload`, 'hello')
      .query({ filename: 'cat ü.png' })
      .reply(200, { content_uri: MXC });
    await expect(session().media.upload(Buffer.from('hello'), { contentType: 'image/png', filename: 'cat ü.png' })).resolves.toBe(MXC);
  });

  it('a Uint8Array, application/octet-stream by default, and no filename parameter without one', async () => {
    versions();
    config();
    nock(BASE, { reqheaders: { 'content-type': 'application/octet-stream', 'content-length': '3' } })
      .post(`${LEGACY}/upload`, 'abc')
      .query((q) => Object.keys(q).length === 0)
      .reply(200, { content_uri: MXC });
    await expect(session().media.upload(new Uint8Array([97, 98, 99]))).resolves.toBe(MXC);
  });

  it.each([['not-an-mxc'], ['mxc://example.org/a/b'], [42]])('a content_uri of %j is an InvalidResponseError', async (uri) => {
    versions();
    config();
    nock(BASE).post(`${LEGACY}/upload`).reply(200, { content_uri: uri });
    expect(await session().media.upload(Buffer.from('x')).catch((e: unknown) => e)).toBeInstanceOf(InvalidResponseError);
  });

  it('larger than m.upload.size: MediaTooLargeError after the config, before any upload', async () => {
    versions();
    config({ 'm.upload.size': 4 });
    const e = await session().media.upload(Buffer.from('hello')).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'MediaTooLargeError', limitBytes: 4, sizeBytes: 5 });
  });

  it.each([
    ['a 404 (no config endpoint)', () => nock(BASE).get(`${AUTHED}/config`).reply(404, { errcode: 'M_UNRECOGNIZED' })],
    ['a limit that is not a number', () => config({ 'm.upload.size': 'big' })],
    ['a negative limit', () => config({ 'm.upload.size': -1 })],
  ])('no usable limit (%s): the upload goes ahead', async (_what, reply) => {
    versions();
    reply();
    nock(BASE).post(`${LEGACY}/upload`).reply(200, { content_uri: MXC });
    await expect(session().media.upload(Buffer.from('x'))).resolves.toBe(MXC);
  });

  it('the config is asked once for several uploads (cached)', async () => {
    versions();
    config();
    nock(BASE).post(`${LEGACY}/upload`).times(3).reply(200, { content_uri: MXC });
    const s = session();
    for (let i = 0; i < 3; i++) await s.media.upload(Buffer.from('x'));
  });

});

describe('media.createUri and uploadTo (asynchronous upload)', () => {
  it('POST /_matrix/media/v1/create without a body, then PUT /_matrix/media/v3/upload/{serverName}/{mediaId}', async () => {
    nock(BASE, { reqheaders: { ...AUTH.reqheaders, 'content-length': '0' } })
      .post('/_matrix/media/v1/create')
      .reply(200, { content_uri: MXC, unused_expires_at: 1 });
    versions();
    config();
    nock(BASE, { reqheaders: { 'content-type': 'text/plain', 'content-length': '2' } })
      .put(`${LEGACY}/upload/example.org/abcDEF_123-x`, 'hi')
      .query({ filename: 'a.txt' })
      .reply(200, {});
    const s = session();
    const mxc = await s.media.createUri();
    expect(mxc).toBe(MXC);
    await expect(s.media.uploadTo(mxc, Buffer.from('hi'), { contentType: 'text/plain', filename: 'a.txt' })).resolves.toBeUndefined();
  });

  it('a create reply without a valid content_uri is an InvalidResponseError', async () => {
    nock(BASE).post('/_matrix/media/v1/create').reply(200, {});
    expect(await session().media.createUri().catch((e: unknown) => e)).toBeInstanceOf(InvalidResponseError);
  });

  it('an upload to media already uploaded: the 409 MatrixError', async () => {
    versions();
    config();
    nock(BASE).put(`${LEGACY}/upload/example.org/abcDEF_123-x`).reply(409, { errcode: 'M_CANNOT_OVERWRITE_MEDIA', error: 'exists' });
    const e = await session().media.uploadTo(MXC, Buffer.from('x')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MatrixError);
    expect(e).toMatchObject({ httpStatus: 409, errcode: 'M_CANNOT_OVERWRITE_MEDIA' });
  });
});

describe('media downloads: authenticated (v1.11) or legacy endpoints', () => {
  it('download: GET /_matrix/client/v1/media/download/{serverName}/{mediaId} with the token; metadata from the headers', async () => {
    versions();
    nock(BASE, AUTH).get(`${AUTHED}/download/example.org/abcDEF_123-x`).reply(200, 'bytes', {
      'Content-Type': 'image/jpeg',
      'Content-Length': '5',
      'Content-Disposition': 'inline; filename="photo.jpg"',
    });
    const got = await session().media.downloadBuffer(MXC);
    expect(got).toEqual({ data: Buffer.from('bytes'), contentType: 'image/jpeg', contentLength: 5, filename: 'photo.jpg' });
  });

  it('legacy when /versions lacks v1.11: /_matrix/media/v3/download with allow_redirect=true', async () => {
    versions(['r0.6.1', 'v1.1', 'v1.10']);
    nock(BASE).get(`${LEGACY}/download/example.org/abcDEF_123-x`).query({ allow_redirect: 'true' }).reply(200, 'old');
    expect((await session().media.downloadBuffer(MXC)).data.toString()).toBe('old');
  });

  it('authenticated when /versions has a later v1.x, or the stable MSC3916 flag', async () => {
    versions(['v1.12']);
    nock(BASE).get(`${AUTHED}/download/example.org/abcDEF_123-x`).reply(200, 'new');
    expect((await session().media.downloadBuffer(MXC)).data.toString()).toBe('new');
    versions(['v1.10'], { 'org.matrix.msc3916.stable': true });
    nock(BASE).get(`${AUTHED}/download/example.org/abcDEF_123-x`).reply(200, 'flag');
    expect((await session().media.downloadBuffer(MXC)).data.toString()).toBe('flag');
  });

  it('a hostile /versions (versions not an array, features not an object) means legacy, not a crash', async () => {
    nock(BASE).get(VERSIONS).reply(200, { versions: 'v1.11', unstable_features: ['org.matrix.msc3916.stable'] });
    nock(BASE).get(`${LEGACY}/download/example.org/abcDEF_123-x`).query(true).reply(200, 'x');
    expect((await session().media.downloadBuffer(MXC)).data.toString()).toBe('x');
  });

  it('/versions is asked once per session for every media call (cached)', async () => {
    versions();
    nock(BASE).get(`${AUTHED}/download/example.org/abcDEF_123-x`).times(2).reply(200, 'x');
    nock(BASE).get(`${AUTHED}/config`).reply(200, {});
    const s = session();
    await s.media.downloadBuffer(MXC);
    await s.media.downloadBuffer(MXC);
    await s.media.config();
    await expect(s.server.supportsVersion('v1.11')).resolves.toBe(true);
    await expect(s.server.supportsVersion('v1.13')).resolves.toBe(false);
    await expect(s.server.supportsFeature('org.example')).resolves.toBe(false);
  });

  it('waitForUploadMs becomes timeout_ms', async () => {
    versions();
    nock(BASE).get(`${AUTHED}/download/example.org/abcDEF_123-x`).query({ timeout_ms: '1500' }).reply(200, 'x');
    await session().media.downloadBuffer(MXC, { waitForUploadMs: 1500 });
  });

  it('thumbnail: width, height, method and animated as query parameters (and allow_redirect on legacy)', async () => {
    versions();
    nock(BASE, AUTH)
      .get(`${AUTHED}/thumbnail/example.org/abcDEF_123-x`)
      .query({ width: '64', height: '48', method: 'crop', animated: 'true' })
      .reply(200, 'png', { 'Content-Type': 'image/png' });
    const thumb = await session().media.thumbnail(MXC, { width: 64, height: 48, method: 'crop', animated: true });
    expect(thumb.contentType).toBe('image/png');
    versions(['v1.10']);
    nock(BASE)
      .get(`${LEGACY}/thumbnail/example.org/abcDEF_123-x`)
      .query({ width: '32', height: '32', allow_redirect: 'true' })
      .reply(200, 'png');
    await session().media.thumbnail(MXC, { width: 32, height: 32 });
  });

  it('config and previewUrl on both endpoint families', async () => {
    versions();
    nock(BASE).get(`${AUTHED}/config`).reply(200, { 'm.upload.size': 5 });
    nock(BASE, AUTH)
      .get(`${AUTHED}/preview_url`)
      .query({ url: 'https://matrix.org/a?b=c', ts: '1700000000000' })
      .reply(200, { 'og:title': 'Matrix' });
    const s = session();
    expect(await s.media.config()).toEqual({ 'm.upload.size': 5 });
    expect(await s.media.previewUrl('https://matrix.org/a?b=c', 1700000000000)).toEqual({ 'og:title': 'Matrix' });
    versions(['v1.2']);
    nock(BASE).get(`${LEGACY}/config`).reply(200, {});
    nock(BASE).get(`${LEGACY}/preview_url`).query({ url: 'http://x.example' }).reply(200, {});
    const old = session();
    await old.media.config();
    await old.media.previewUrl('http://x.example');
  });

  it('an encrypted attachment is decrypted and checked; one with another hash is refused with AttachmentHashError', async () => {
    const plain = Buffer.from('secret picture bytes');
    const { data, info } = encryptAttachment(plain);
    const file: EncryptedFile = { ...info, url: MXC };
    versions();
    nock(BASE).get(`${AUTHED}/download/example.org/abcDEF_123-x`).times(2).reply(200, data);
    const s = session();
    expect((await s.media.downloadBuffer(file)).data.equals(plain)).toBe(true);
    const forged = { ...file, hashes: { sha256: encryptAttachment(plain).info.hashes.sha256 } };
    expect(await s.media.downloadBuffer(forged).catch((e: unknown) => e)).toBeInstanceOf(AttachmentHashError);
  });
});

describe('media URL builders and mxc helpers', () => {
  it('downloadUrl and thumbnailUrl: authenticated URLs, no token in them', () => {
    const s = session();
    expect(s.media.downloadUrl(MXC)).toBe(`${BASE}${AUTHED}/download/example.org/abcDEF_123-x`);
    expect(s.media.downloadUrl('mxc://example.org:8448/id', { filename: 'a b/c.png' })).toBe(
      `${BASE}${AUTHED}/download/example.org%3A8448/id/a%20b%2Fc.png`,
    );
    const thumb = s.media.thumbnailUrl(MXC, { width: 96, height: 96, method: 'scale' });
    expect(thumb).toBe(`${BASE}${AUTHED}/thumbnail/example.org/abcDEF_123-x?width=96&height=96&method=scale`);
    expect(thumb + s.media.downloadUrl(MXC)).not.toContain(TOKEN);
  });

  it('parseMxc splits server name (with a port or an IPv6 literal) and media ID', () => {
    expect(parseMxc(MXC)).toEqual({ serverName: 'example.org', mediaId: 'abcDEF_123-x' });
    expect(session().media.parseMxc('mxc://[::1]:8448/x1')).toEqual({ serverName: '[::1]:8448', mediaId: 'x1' });
  });

  it.each([
    'https://example.org/abc',
    'mxc://example.org',
    'mxc://example.org/',
    'mxc:///abc',
    'mxc://example.org/a/b',
    'mxc://example.org/a?b',
    'mxc://example.org/../x',
    'mxc://exa mple.org/abc',
    ` mxc://example.org/abc`,
    `mxc://example.org/${'a'.repeat(300)}`,
  ])('parseMxc refuses %j with a ValidationError', (bad) => {
    expect(() => parseMxc(bad)).toThrow(expect.objectContaining({ name: 'ValidationError', parameter: 'mxc' }));
  });
});

describe('bad input: a ValidationError before any request', () => {
  const file = join(dir, 'f.bin');
  beforeAll(() => writeFileSync(file, 'x'));

  it.each([
    ['mxc', (s: ReturnType<typeof session>) => s.media.download('mxc://nope')],
    ['mxc', (s: ReturnType<typeof session>) => s.media.thumbnail('x', { width: 1, height: 1 })],
    ['mxc', (s: ReturnType<typeof session>) => s.media.uploadTo('mxc://x', Buffer.from(''))],
    ['maxBytes', (s: ReturnType<typeof session>) => s.media.download(MXC, { maxBytes: 0 })],
    ['waitForUploadMs', (s: ReturnType<typeof session>) => s.media.download(MXC, { waitForUploadMs: -1 })],
    ['width', (s: ReturnType<typeof session>) => s.media.thumbnail(MXC, { width: 0, height: 1 })],
    ['height', (s: ReturnType<typeof session>) => s.media.thumbnail(MXC, { width: 1, height: 1e6 })],
    ['method', (s: ReturnType<typeof session>) => s.media.thumbnail(MXC, { width: 1, height: 1, method: 'fit' as 'crop' })],
    ['animated', (s: ReturnType<typeof session>) => s.media.thumbnail(MXC, { width: 1, height: 1, animated: 'yes' as unknown as boolean })],
    ['contentType', (s: ReturnType<typeof session>) => s.media.upload(Buffer.from('x'), { contentType: 'image/png\r\nX-Evil: 1' })],
    ['contentType', (s: ReturnType<typeof session>) => s.media.upload(Buffer.from('x'), { contentType: 'png' })],
    ['filename', (s: ReturnType<typeof session>) => s.media.upload(Buffer.from('x'), { filename: 'a\nb' })],
    ['size', (s: ReturnType<typeof session>) => s.media.upload(Buffer.from('x'), { size: -1 })],
    ['onProgress', (s: ReturnType<typeof session>) => s.media.upload(Buffer.from('x'), { onProgress: 1 as unknown as () => void })],
    ['data', (s: ReturnType<typeof session>) => s.media.upload(42 as unknown as Buffer)],
    ['data', (s: ReturnType<typeof session>) => s.media.upload(join(dir, 'missing.bin'))],
    ['data', (s: ReturnType<typeof session>) => s.media.upload(dir)],
    ['data', (s: ReturnType<typeof session>) => s.media.upload('')],
    ['size', (s: ReturnType<typeof session>) => s.media.upload(file, { size: 2 })],
    ['url', (s: ReturnType<typeof session>) => s.media.previewUrl('ftp://example.org/')],
    ['ts', (s: ReturnType<typeof session>) => s.media.previewUrl('https://example.org/', -5)],
    ['file.v', (s: ReturnType<typeof session>) => s.media.download({ url: MXC, v: 'v1' } as unknown as EncryptedFile)],
    ['filePath', (s: ReturnType<typeof session>) => s.media.downloadToFile(MXC, join(dir, 'no-such-dir', 'x'))],
  ])('%s', async (parameter, call) => {
    // Primed in case a check comes too late: neither may be used.
    const asked = [versions(), nock(BASE).get(`${AUTHED}/config`).reply(200, {})];
    await expectInvalid(() => call(session()), parameter);
    expect(asked.map((scope) => scope.isDone())).toEqual([false, false]);
    nock.cleanAll();
  });

  it('the URL builders and supportsVersion check their input too', () => {
    const s = session();
    expect(() => s.media.downloadUrl('x')).toThrow(expect.objectContaining({ parameter: 'mxc' }));
    expect(() => s.media.downloadUrl(MXC, { filename: '' })).toThrow(expect.objectContaining({ parameter: 'filename' }));
    expect(() => s.media.thumbnailUrl(MXC, { width: 1.5, height: 1 })).toThrow(expect.objectContaining({ parameter: 'width' }));
    return expect(s.server.supportsVersion('1.11')).rejects.toMatchObject({ parameter: 'version' });
  });
});

