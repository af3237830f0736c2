import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { BodyLengthError, BodyReadError, ValidationError } from './errors';

/**
 * What a raw (non-JSON) request body may be: bytes in memory, a file path (a string is always
 * a path, never content), a stream, or a function that opens the stream anew for each attempt.
 * Bytes, files and factories can be sent again (retries); a stream only until its first byte
 * was read.
 */
export type BodyData = Buffer | Uint8Array | Readable | string | (() => Readable);

/** `onProgress(sent, total)`: bytes handed to the connection so far, and the body's length. */
export type ProgressListener = (sent: number, total: number) => void;

/** A raw request body (media upload), as `RequestSpec.rawBody` takes it. */
export interface RawBody {
  /** The bytes: see BodyData. */
  data: BodyData;
  /** Sent as the Content-Type; `application/octet-stream` by default. */
  contentType?: string;
  /**
   * The length in bytes. Needed for a stream or a factory (Synapse refuses an upload without
   * a Content-Length); taken from the bytes or the file otherwise, and checked against them.
   */
  length?: number;
  /** Called as the body goes out: at least every 64 KiB or 250 ms, monotonic, ending at the length. */
  onProgress?: ProgressListener;
}

/** Progress events: at least this often by bytes, or by time, whichever comes first. */
export const PROGRESS_BYTES = 64 * 1024;
export const PROGRESS_MS = 250;

/** What the request core keeps of a raw body for the attempts of one request. */
export interface PreparedBody {
  readonly length: number;
  readonly contentType: string;
  /** False once a one-shot stream has given its first byte: it cannot be sent again. */
  readonly replayable: boolean;
  /** The bytes for one attempt. `onActivity` is called for every chunk handed over. */
  open(onActivity: () => void): UploadStream;
}

const TOKEN_CHARS = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN_CHARS}/${TOKEN_CHARS}(\\s*;[\\x20-\\x7e]*)?$`);

/** A media type for a Content-Type header: `type/subtype` with optional parameters, nothing that would split the header. */
export function checkContentType(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length > 255 || !MEDIA_TYPE.test(v)) {
    throw new ValidationError(name, 'must be a media type like image/png (at most 255 characters)');
  }
  return v;
}

function isReadable(v: unknown): v is Readable {
  return v instanceof Readable || (typeof v === 'object' && v !== null && typeof (v as Readable).pipe === 'function' && typeof (v as Readable).on === 'function');
}

function checkLength(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ValidationError(name, 'must be a non-negative integer');
  return v;
}

/** The bytes of a Buffer or Uint8Array as a Buffer, without copying. */
export function asBuffer(data: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The length of `data` when it can be known without reading it (bytes, a file), or undefined
 * (a stream, a factory). A file that cannot be read is a ValidationError.
 */
export async function knownLength(name: string, data: BodyData): Promise<number | undefined> {
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return data.byteLength;
  if (typeof data === 'string') {
    if (data === '' || data.includes('\0')) throw new ValidationError(name, 'must be a file path, bytes or a stream');
    const info = await stat(data).catch((error: NodeJS.ErrnoException) => {
      throw new ValidationError(name, `must name a readable file (${error.code ?? 'unreadable'})`);
    });
    if (!info.isFile()) throw new ValidationError(name, 'must name a regular file');
    return info.size;
  }
  if (typeof data === 'function' || isReadable(data)) return undefined;
  throw new ValidationError(name, 'must be a Buffer, a Uint8Array, a file path, a Readable or a function returning one');
}

/**
 * Checks a raw body and fixes its length and type for the attempts of one request. A stream
 * or factory without `length` is a ValidationError: buffering it is the caller's policy
 * (session.media does it up to the server's upload limit).
 */
export async function prepareBody(raw: RawBody): Promise<PreparedBody> {
  if (typeof raw !== 'object' || raw === null) throw new ValidationError('rawBody', 'must be an object');
  const contentType = raw.contentType === undefined ? 'application/octet-stream' : checkContentType('rawBody.contentType', raw.contentType);
  if (raw.onProgress !== undefined && typeof raw.onProgress !== 'function') throw new ValidationError('rawBody.onProgress', 'must be a function');
  const declared = raw.length === undefined ? undefined : checkLength('rawBody.length', raw.length);
  const measured = await knownLength('rawBody.data', raw.data);
  if (measured !== undefined && declared !== undefined && declared !== measured) {
    throw new ValidationError('rawBody.length', 'must match the length of the data');
  }
  const length = measured ?? declared;
  if (length === undefined) throw new ValidationError('rawBody.length', 'is required for a stream (the server needs a Content-Length)');
  const data = raw.data;
  const progress = raw.onProgress && progressReporter(raw.onProgress, length);
  let opened = false;
  let oneShotUsed = false;
  const oneShot = isReadable(data);
  return {
    length,
    contentType,
    get replayable() {
      return !oneShotUsed;
    },
    open(onActivity) {
      let source: Readable;
      if (Buffer.isBuffer(data) || data instanceof Uint8Array) source = Readable.from(slices(asBuffer(data)));
      else if (typeof data === 'string') source = createReadStream(data, { highWaterMark: PROGRESS_BYTES });
      else if (oneShot) {
        if (opened) throw new ValidationError('rawBody.data', 'is a stream that was already read');
        source = data as Readable;
      } else {
        source = (data as () => Readable)();
        if (!isReadable(source)) throw new ValidationError('rawBody.data', 'must be a function returning a Readable');
      }
      opened = true;
      return new UploadStream(source, length, (sent) => {
        if (oneShot) oneShotUsed = true;
        onActivity();
        progress?.(sent);
      });
    },
  };
}

/** A buffer as a lazy sequence of 64 KiB views, so progress follows what the connection takes. */
function* slices(buf: Buffer): Generator<Buffer> {
  for (let at = 0; at < buf.length; at += PROGRESS_BYTES) yield buf.subarray(at, at + PROGRESS_BYTES);
}

/**
 * Calls `listener(sent, total)` at every PROGRESS_BYTES boundary (the stream cuts its pieces
 * there), after PROGRESS_MS without a report, and at the end; never going backwards: after a
 * retry restarts the body, nothing is reported until it passes what was reported before. A
 * throwing listener does not break the upload.
 */
function progressReporter(listener: ProgressListener, total: number): (sent: number) => void {
  let reported = -1;
  let at = 0;
  return (sent) => {
    const now = Date.now();
    if (sent <= reported) return;
    if (sent !== total && reported >= 0 && sent % PROGRESS_BYTES !== 0 && now - at < PROGRESS_MS) return;
    reported = sent;
    at = now;
    try {
      listener(sent, total);
    } catch {
      // The listener's failure is not the upload's.
    }
  };
}

/**
 * The body of one attempt: the caller's bytes, counted. It fails with BodyLengthError, before
 * passing the excess on, when the source gives more than `length`, and at its end when it gave
 * fewer (the server would otherwise wait for the rest until the timeout).
 */
export class UploadStream extends Readable {
  /** Why the body failed, when it was its own fault (a length mismatch, a source error). */
  failure?: Error;
  #source: Readable;
  #sent = 0;

  constructor(
    source: Readable,
    private readonly length: number,
    private readonly onChunk: (sent: number) => void,
  ) {
    super({ highWaterMark: PROGRESS_BYTES });
    this.#source = source;
    source.on('data', (chunk: Buffer | string) => this.#data(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    source.once('end', () => this.#end());
    source.once('error', (error: Error) => this.#fail(new BodyReadError(error)));
    source.pause();
    if (length === 0) onChunk(0);
  }

  override _read(): void {
    this.#source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#source.destroy();
    callback(error);
  }

  #data(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.#sent + chunk.length > this.length) return this.#fail(new BodyLengthError(this.length, 'more'));
    // Pieces end at the progress step's boundaries (of the whole body), so progress is
    // reported at least every PROGRESS_BYTES, whatever the caller's chunk sizes.
    let pushed = true;
    for (let at = 0; at < chunk.length; ) {
      const room = PROGRESS_BYTES - (this.#sent % PROGRESS_BYTES);
      const piece = at === 0 && chunk.length <= room ? chunk : chunk.subarray(at, at + room);
      at += piece.length;
      this.#sent += piece.length;
      this.onChunk(this.#sent);
      pushed = this.push(piece);
    }
    if (!pushed) this.#source.pause();
  }

  #end(): void {
    if (this.destroyed) return;
    if (this.#sent !== this.length) return this.#fail(new BodyLengthError(this.length, 'fewer'));
    this.push(null);
  }

  #fail(error: Error): void {
    this.failure ??= error;
    this.destroy(error);
  }
}

/**
 * Reads a stream whole into one Buffer, failing with `tooLarge()` (and destroying the stream)
 * as soon as it passes `limit` bytes.
 */
export async function collect(stream: Readable, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

/** What a streamed reply needs from the request core. */
export interface ResponseStreamOptions {
  /** More bytes than this fail the stream with `tooLarge()` before they are passed on. */
  maxBytes: number;
  /** The Content-Length, when the server stated it: a body that ends short of it is cut. */
  expectedBytes?: number;
  /** No byte for this long while the reader waits for one: the stream fails with `idle()`. */
  idleMs: number;
  tooLarge(): Error;
  truncated(): Error;
  idle(): Error;
  /** The typed error for a failure of the underlying response. */
  mapError(error: unknown): Error;
  /** Called once, when the stream ends, fails or is destroyed. */
  onClose(): void;
}

/**
 * A streamed response body as the caller reads it: counted against `maxBytes`, cut short
 * bodies and stalls turned into typed errors. The idle timer only runs while the reader
 * waits for data, so a reader that pauses is never timed out for it.
 */
export class ResponseStream extends Readable {
  #source: Readable;
  #received = 0;
  #timer?: NodeJS.Timeout;
  #closed = false;

  constructor(
    source: Readable,
    private readonly opts: ResponseStreamOptions,
  ) {
    super({ highWaterMark: PROGRESS_BYTES });
    this.#source = source;
    source.on('data', (chunk: Buffer) => this.#data(chunk));
    source.once('end', () => this.#end());
    source.once('error', (error: Error) => this.destroy(opts.mapError(error)));
    source.pause();
  }

  override _read(): void {
    this.#arm();
    this.#source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#disarm();
    this.#source.destroy();
    this.#close();
    callback(error);
  }

  #data(chunk: Buffer): void {
    this.#disarm();
    if (this.destroyed) return;
    this.#received += chunk.length;
    if (this.#received > this.opts.maxBytes) return void this.destroy(this.opts.tooLarge());
    if (this.push(chunk)) this.#arm();
    else this.#source.pause();
  }

  #end(): void {
    this.#disarm();
    if (this.destroyed) return;
    const expected = this.opts.expectedBytes;
    if (expected !== undefined && this.#received !== expected) return void this.destroy(this.opts.truncated());
    this.push(null);
    this.#close();
  }

  #arm(): void {
    // A reader may destroy the stream from within push() (an abort in its 'data' listener).
    if (this.destroyed || this.#closed) return;
    this.#timer ??= setTimeout(() => this.destroy(this.opts.idle()), this.opts.idleMs);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.opts.onClose();
  }
}

/** At most `limit` bytes of a stream as text (an error body), the rest discarded unread. */
export async function readText(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    chunks.push(size + buf.length > limit ? buf.subarray(0, limit - size) : buf);
    size += buf.length;
    if (size >= limit) {
      stream.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
