// Raw request bodies: what prepareBody accepts, the per-attempt streams (lengths enforced,
// progress monotonic and fine-grained, one-shot streams used once), and the helpers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import nock from 'nock';
import { BodyLengthError, BodyReadError, ValidationError } from '../../lib';
import { collect, PROGRESS_BYTES, prepareBody, readText, type UploadStream } from '../../lib/core/body';
import { dispositionFilename } from '../../lib/core/response';
import { BASE, guardNock, session } from '../helpers/fixtures';

guardNock();

const dir = mkdtempSync(join(tmpdir(), 'body-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function drain(stream: UploadStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function invalid(p: Promise<unknown>, parameter: string): Promise<void> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ValidationError);
  expect((e as ValidationError).parameter).toBe(parameter);
}

describe('prepareBody', () => {
  it('takes the length of bytes and files, the declared one of streams, and octet-stream by default', async () => {
    const file = join(dir, 'f');
    writeFileSync(file, 'abcdef');
    expect((await prepareBody({ data: Buffer.from('abc') })).length).toBe(3);
    expect(await prepareBody({ data: file, contentType: 'text/plain; charset=utf-8' })).toMatchObject({ length: 6, contentType: 'text/plain; charset=utf-8' });
    expect(await prepareBody({ data: Readable.from([]), length: 0 })).toMatchObject({ length: 0, contentType: 'application/octet-stream', replayable: true });
  });

  it.each<[string, () => Promise<unknown>]>([
    ['rawBody', () => prepareBody(null as never)],
    ['rawBody.contentType', () => prepareBody({ data: Buffer.alloc(1), contentType: 'text' })],
    ['rawBody.onProgress', () => prepareBody({ data: Buffer.alloc(1), onProgress: {} as never })],
    ['rawBody.length', () => prepareBody({ data: Buffer.alloc(1), length: 2 })],
    ['rawBody.length', () => prepareBody({ data: Buffer.alloc(1), length: -1 })],
    ['rawBody.length', () => prepareBody({ data: Readable.from([]) })],
    ['rawBody.length', () => prepareBody({ data: () => Readable.from([]) })],
    ['rawBody.data', () => prepareBody({ data: {} as never })],
    ['rawBody.data', () => prepareBody({ data: 'with\0nul' })],
  ])('%s is checked', (parameter, call) => invalid(call(), parameter));

  it('a factory that does not return a stream fails when opened', async () => {
    const body = await prepareBody({ data: (() => 'nope') as never, length: 1 });
    expect(() => body.open(() => undefined)).toThrow(expect.objectContaining({ parameter: 'rawBody.data' }));
  });

  it('a one-shot stream: replayable until its first byte is read, then never opened again', async () => {
    const body = await prepareBody({ data: Readable.from([Buffer.from('ab')]), length: 2 });
    expect(body.replayable).toBe(true);
    expect((await drain(body.open(() => undefined))).toString()).toBe('ab');
    expect(body.replayable).toBe(false);
    expect(() => body.open(() => undefined)).toThrow(/already read/);
  });

  it('bytes and factories open anew for every attempt, with the same bytes', async () => {
    let opened = 0;
    const body = await prepareBody({ data: () => (opened++, Readable.from([Buffer.from('xyz')])), length: 3 });
    for (let i = 0; i < 2; i++) expect((await drain(body.open(() => undefined))).toString()).toBe('xyz');
    expect(opened).toBe(2);
    expect(body.replayable).toBe(true);
  });
});

describe('the stream of one attempt', () => {
  it('progress: every 64 KiB at least (big chunks are split), increasing, ending at the total; string chunks count as bytes', async () => {
    const events: Array<[number, number]> = [];
    const total = 5 * PROGRESS_BYTES + 10;
    const chunks = [Buffer.alloc(3 * PROGRESS_BYTES + 5), 'é'.repeat(1), Buffer.alloc(2 * PROGRESS_BYTES + 3)];
    const body = await prepareBody({ data: Readable.from(chunks), length: total, onProgress: (sent, t) => events.push([sent, t]) });
    const out = await drain(body.open(() => undefined));
    expect(out.length).toBe(total);
    let previous = 0;
    for (const [sent, t] of events) {
      expect(t).toBe(total);
      expect(sent).toBeGreaterThan(previous);
      expect(sent - previous).toBeLessThanOrEqual(PROGRESS_BYTES);
      previous = sent;
    }
    expect(previous).toBe(total);
  });

  it('progress across a repeated attempt never goes back, and a throwing listener breaks nothing', async () => {
    const events: number[] = [];
    const data = Buffer.alloc(3 * PROGRESS_BYTES);
    const body = await prepareBody({
      data,
      onProgress: (sent) => {
        events.push(sent);
        throw new Error('listener bug');
      },
    });
    await drain(body.open(() => undefined));
    await drain(body.open(() => undefined));
    expect(events).toEqual([PROGRESS_BYTES, 2 * PROGRESS_BYTES, 3 * PROGRESS_BYTES]); // the repeat reported nothing new
  });

  it('an empty body reports (0, 0) once', async () => {
    const events: Array<[number, number]> = [];
    const body = await prepareBody({ data: Buffer.alloc(0), onProgress: (a, b) => events.push([a, b]) });
    expect((await drain(body.open(() => undefined))).length).toBe(0);
    expect(events).toEqual([[0, 0]]);
  });

  it('more or fewer bytes than declared: BodyLengthError; a failing source: BodyReadError with its cause', async () => {
    const long = await prepareBody({ data: Readable.from([Buffer.alloc(3), Buffer.alloc(3)]), length: 4 });
    const a = long.open(() => undefined);
    await expect(drain(a)).rejects.toMatchObject({ name: 'BodyLengthError', actual: 'more', declaredBytes: 4 });
    expect(a.failure).toBeInstanceOf(BodyLengthError);
    const short = await prepareBody({ data: () => Readable.from([Buffer.alloc(3)]), length: 4 });
    await expect(drain(short.open(() => undefined))).rejects.toMatchObject({ actual: 'fewer' });
    const cause = new Error('disk on fire');
    const broken = await prepareBody({ data: () => new Readable({ read() { this.destroy(cause); } }), length: 4 });
    const e = await drain(broken.open(() => undefined)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BodyReadError);
    expect((e as BodyReadError).cause).toBe(cause);
    expect((e as Error).message).toContain('disk on fire');
  });

  it('every chunk counts as activity (the request timer is restarted from it)', async () => {
    let activity = 0;
    const body = await prepareBody({ data: Buffer.alloc(2 * PROGRESS_BYTES + 1) });
    await drain(body.open(() => activity++));
    expect(activity).toBe(3);
  });
});

describe('through the core', () => {
  it('a JSON body and a raw body together are refused; a raw body goes with its own headers', async () => {
    const s = session() as unknown as { core: { request: (spec: object) => Promise<unknown> } };
    await invalid(s.core.request({ method: 'POST', path: '/x', body: {}, rawBody: { data: Buffer.alloc(1) } }), 'rawBody');
    nock(BASE, { reqheaders: { 'content-type': 'application/x-thing', 'content-length': '2', 'x-extra': 'yes' } })
      .put('/y', 'hi')
      .reply(200, {});
    await expect(
      s.core.request({ method: 'PUT', path: '/y', headers: { 'X-Extra': 'yes' }, rawBody: { data: Buffer.from('hi'), contentType: 'application/x-thing' } }),
    ).resolves.toEqual({});
  });
});

describe('helpers', () => {
  it('collect: the whole stream, or the given error once past the limit', async () => {
    expect((await collect(Readable.from([Buffer.from('a'), 'b']), 2, () => new Error('x'))).toString()).toBe('ab');
    await expect(collect(Readable.from([Buffer.from('abc')]), 2, () => new Error('too big'))).rejects.toThrow('too big');
  });

  it('readText: at most the limit, as UTF-8', async () => {
    expect(await readText(Readable.from([Buffer.from('hello '), Buffer.from('world')]), 8)).toBe('hello wo');
    expect(await readText(Readable.from([Buffer.from('{}')]), 100)).toBe('{}');
  });

  it.each<[unknown, string | undefined]>([
    ['attachment; filename="a.png"', 'a.png'],
    [`attachment; filename*=UTF-8''na%C3%AFve%20file.txt`, 'naïve file.txt'],
    [`inline; filename="x.txt"; filename*=UTF-8''y.txt`, 'y.txt'],
    ['attachment; filename="/abs/path/z.txt"', 'z.txt'],
    ['attachment; filename="..\\\\..\\\\win.ini"', 'win.ini'],
    ['attachment; filename=".."', undefined],
    ['attachment; filename="a\u0007b"', 'ab'],
    ['attachment', undefined],
    ['attachment; filename=', undefined],
    [undefined, undefined],
    [['a', 'b'], undefined],
    [`attachment; filename="${'n'.repeat(300)}"`, 'n'.repeat(255)],
    [`attachment; filename="${'n'.repeat(9000)}"`, undefined],
  ])('dispositionFilename, case %#', (header, name) => {
    expect(dispositionFilename(header)).toBe(name);
  });
});
