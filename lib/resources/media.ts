import { randomBytes } from 'node:crypto';
import { close, createWriteStream, open } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pipeline as pipe, type Readable } from 'node:stream';
import { checkContentType, collect, type BodyData, type ProgressListener } from '../core/body';
import { MatrixError, MediaTooLargeError, ValidationError } from '../core/errors';
import { path, queryString } from '../core/path';
import type { RequestOptions, RequestSpec, StreamedResponse } from '../core/request';
import { check } from '../core/validate';
import { decryptingStream, type EncryptedFile } from '../media/attachment';
import { parseMxc, type MxcParts } from '../media/mxc';
import { resolveBody } from '../media/source';
import { Resource } from './resource';

/** What `upload` and `uploadTo` take besides the data. */
export interface UploadOptions extends RequestOptions {
  /** The Content-Type the media is served with; `application/octet-stream` by default. */
  contentType?: string;
  /** The file name the server keeps with the media (and serves in Content-Disposition). */
  filename?: string;
  /**
   * The length of a stream (or factory) in bytes. Without it the stream is read into memory
   * first, up to the server's upload limit, to learn its length: Synapse refuses an upload
   * without a Content-Length. Bytes and files have their own length.
   */
  size?: number;
  /** `(sent, total)` as the body goes out: at least every 64 KiB or 250 ms, monotonic, ending at the total. */
  onProgress?: ProgressListener;
}

/** What `download`, `downloadToFile` and `thumbnail` take. */
export interface DownloadOptions extends RequestOptions {
  /**
   * The largest body accepted, in bytes (default: the session's `maxResponseBytes`, 64 MiB).
   * A Content-Length above it is refused before the body is read; a body that grows past it
   * is cut with ResponseTooLargeError.
   */
  maxBytes?: number;
  /**
   * For media created with `createUri` and not uploaded yet: how long the server waits for
   * the upload before answering 504 M_NOT_YET_UPLOADED (the spec's `timeout_ms`; Synapse's
   * default is 20 s).
   */
  waitForUploadMs?: number;
}

/** What `thumbnail` and `thumbnailUrl` take. */
export interface ThumbnailOptions extends DownloadOptions {
  /** The desired width in pixels; the server picks the nearest size it has. */
  width: number;
  /** The desired height in pixels. */
  height: number;
  /** `scale` (fit inside, the default on Synapse) or `crop` (fill exactly). */
  method?: 'crop' | 'scale';
  /** Whether an animated thumbnail is wanted, for animated images (spec v1.11). */
  animated?: boolean;
}

/** A download in progress: the body as a stream, and what the headers said. */
export interface MediaDownload {
  /**
   * The body, never buffered. It fails with ResponseTooLargeError past `maxBytes`, with
   * ConnectionError `ERR_RESPONSE_TRUNCATED` when cut short, with TimeoutError when no byte
   * comes for `timeoutMs` while it is read, and (encrypted attachments) with
   * AttachmentHashError at its end when the hash does not match.
   */
  stream: Readable;
  /** The Content-Type the server gave (for an encrypted attachment: the ciphertext's, see the event's `info.mimetype`). */
  contentType?: string;
  /** The length in bytes, when the server stated it. */
  contentLength?: number;
  /** The file name from Content-Disposition, reduced to a safe base name (untrusted: the server chose it). */
  filename?: string;
}

/** A download held in memory (`downloadBuffer`). */
export interface DownloadedMedia extends Omit<MediaDownload, 'stream'> {
  /** The whole body (decrypted and verified, for an encrypted attachment). */
  data: Buffer;
}

/** What `downloadToFile` wrote. */
export interface SavedMedia extends Omit<MediaDownload, 'stream'> {
  /** The file written (as given). */
  path: string;
  /** Bytes written. */
  bytes: number;
}

/** The server's media configuration (GET /media/config). */
export interface MediaConfig {
  /** The largest upload accepted, in bytes, when the server says. */
  'm.upload.size'?: number;
  [field: string]: unknown;
}

/** A URL preview: OpenGraph fields (`og:title`, `og:image`, …) and `matrix:image:size`. */
export type UrlPreview = Record<string, unknown>;

/** How long the media config (the upload limit) is trusted before it is asked again. */
export const MEDIA_CONFIG_CACHE_MS = 60 * 60 * 1000;

const FILENAME = { max: 255 };
const MAX_DIMENSION = 10_000;

/** An EncryptedFile or an mxc:// URI: what `download` takes. */
export type MediaSource = string | EncryptedFile;

function checkUpload(opts: UploadOptions): void {
  check.object('opts', opts);
  check.optional(opts.contentType, (v) => checkContentType('contentType', v));
  check.optional(opts.filename, (v) => check.string('filename', v, FILENAME));
  check.optional(opts.size, (v) => check.int('size', v));
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new ValidationError('onProgress', 'must be a function');
}

function checkDownload(opts: DownloadOptions): void {
  check.object('opts', opts);
  check.optional(opts.maxBytes, (v) => check.int('maxBytes', v, { min: 1 }));
  check.optional(opts.waitForUploadMs, (v) => check.int('waitForUploadMs', v, { max: 600_000 }));
}

function checkThumbnail(opts: ThumbnailOptions): void {
  check.object('opts', opts);
  checkDownload(opts);
  check.int('width', opts.width, { min: 1, max: MAX_DIMENSION });
  check.int('height', opts.height, { min: 1, max: MAX_DIMENSION });
  check.optional(opts.method, (v) => check.oneOf('method', v, ['crop', 'scale'] as const));
  check.optional(opts.animated, (v) => check.bool('animated', v));
}

/** The upload limit in a media config, when it is a usable number. */
function uploadSize(config: MediaConfig): number | undefined {
  const size = config['m.upload.size'];
  return typeof size === 'number' && Number.isSafeInteger(size) && size > 0 ? size : undefined;
}

/**
 * `session.media`: the content repository. Uploads go to POST /_matrix/media/v3/upload (or
 * the asynchronous create + PUT); downloads, thumbnails, the config and URL previews use the
 * authenticated endpoints (/_matrix/client/v1/media/…, spec v1.11) and fall back to the
 * legacy /_matrix/media/v3/… ones only when the server's /versions lacks v1.11.
 */
export class Media extends Resource {
  #config?: { at: number; value: MediaConfig };

  /**
   * Uploads `data` and returns its `mxc://` URI. Before anything is sent, a body larger than
   * the server's limit (`config()`, cached) is refused, and a stream without `size` is read
   * into memory up to that limit to learn its length. The upload is not repeated once it may
   * have reached the server (a repeat would store a second copy); a one-shot stream is never
   * repeated once read, while bytes, files and factories are (after a 429, say).
   *
   * @param data Bytes, a file path (a string is always a path), a Readable, or a function
   *   that opens the stream anew for each attempt (`() => createReadStream(p)`).
   * @throws {MediaTooLargeError} when the body is larger than the server accepts; nothing was uploaded.
   * @throws {ValidationError} bad options, an unreadable file, a stream longer or shorter than `size` (BodyLengthError).
   * @throws {MatrixError} e.g. 413 M_TOO_LARGE, 403 M_FORBIDDEN.
   * @example
   * const mxc = await session.media.upload('./cat.png', { contentType: 'image/png', filename: 'cat.png' });
   */
  async upload(data: BodyData, opts: UploadOptions = {}): Promise<string> {
    checkUpload(opts);
    const body = await this.#body(data, opts);
    const res = await this.#send<{ content_uri: string }>(
      {
        method: 'POST',
        path: '/_matrix/media/v3/upload',
        query: { filename: opts.filename },
        rawBody: { ...body, contentType: opts.contentType, onProgress: opts.onProgress },
        fields: { content_uri: 'mxcUri' },
      },
      opts,
    );
    return res.content_uri;
  }

  /**
   * POST /_matrix/media/v1/create: reserves an `mxc://` URI to upload to later with
   * `uploadTo` (an asynchronous upload, spec v1.7). The URI can go into an event at once;
   * downloads wait for the upload (see DownloadOptions.waitForUploadMs). The server forgets an
   * unused URI after a while (Synapse: 24 h) and limits how many may be pending (5).
   *
   * @example
   * const mxc = await session.media.createUri();
   * await session.media.uploadTo(mxc, buffer, { contentType: 'image/png' });
   */
  async createUri(options?: RequestOptions): Promise<string> {
    const res = await this.core.request<{ content_uri: string }>(
      { method: 'POST', path: '/_matrix/media/v1/create', fields: { content_uri: 'mxcUri' } },
      options,
    );
    return res.content_uri;
  }

  /**
   * PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: uploads the bytes of a URI from
   * `createUri`. Limits and retries as for `upload` (a repeat after the first attempt
   * succeeded would be refused with 409 M_CANNOT_OVERWRITE_MEDIA, so it is not retried once
   * it may have reached the server).
   *
   * @throws {MatrixError} 409 M_CANNOT_OVERWRITE_MEDIA when it was uploaded already; 403 when it is not ours.
   */
  async uploadTo(mxc: string, data: BodyData, opts: UploadOptions = {}): Promise<void> {
    const { serverName, mediaId } = parseMxc(mxc);
    checkUpload(opts);
    const body = await this.#body(data, opts);
    await this.#send(
      {
        method: 'PUT',
        path: path`/_matrix/media/v3/upload/${serverName}/${mediaId}`,
        query: { filename: opts.filename },
        rawBody: { ...body, contentType: opts.contentType, onProgress: opts.onProgress },
      },
      opts,
    );
  }

  /**
   * Downloads media as a stream. `source` is an `mxc://` URI or an encrypted attachment's
   * `file` object (from an event in an encrypted room), which is decrypted as it streams and
   * checked against its hash at the end. Redirects (to a CDN) are followed, without the
   * Authorization header to another origin.
   *
   * @param source An `mxc://` URI, or the `file` of an event in an encrypted room.
   * @param opts `maxBytes` (default: the session's `maxResponseBytes`), `waitForUploadMs`, and
   *   the per-request `signal`, `timeoutMs`, `maxRetries`.
   * @throws {ValidationError} a bad URI or `file`.
   * @throws {ResponseTooLargeError} when the Content-Length is above `maxBytes`; nothing is read.
   * @throws {MatrixError} 404 M_NOT_FOUND, 504 M_NOT_YET_UPLOADED, …
   * @example
   * const { stream, contentType } = await session.media.download(event.content.url, { maxBytes: 10 * 2 ** 20 });
   * await pipeline(stream, createWriteStream('./file'));
   */
  async download(source: MediaSource, opts: DownloadOptions = {}): Promise<MediaDownload> {
    const file = typeof source === 'string' ? undefined : source;
    const decrypt = file && decryptingStream(file); // validates the file before any request
    const mxc = parseMxc(file ? file.url : source, file ? 'file.url' : 'mxc');
    checkDownload(opts);
    const res = await this.#get(mxc, 'download', { timeout_ms: opts.waitForUploadMs }, opts);
    return decrypt ? { ...res, stream: pipe(res.stream, decrypt, () => undefined) } : res;
  }

  /**
   * Downloads media whole into memory (bounded by `maxBytes`, like `download`).
   *
   * @example
   * const { data, contentType } = await session.media.downloadBuffer(mxc);
   */
  async downloadBuffer(source: MediaSource, opts: DownloadOptions = {}): Promise<DownloadedMedia> {
    const { stream, ...meta } = await this.download(source, opts);
    // Already bounded by the stream itself (maxBytes); the limit here only has to be no lower.
    const data = await collect(stream, Number.MAX_SAFE_INTEGER, () => new Error('unreachable'));
    return { ...meta, data };
  }

  /**
   * Downloads media to `filePath`: written to a temporary file beside it, then renamed, so the
   * path never holds a partial or unverified file; on any failure the temporary file is
   * removed and nothing is left. An existing file at `filePath` is replaced.
   *
   * @param source An `mxc://` URI, or the `file` of an event in an encrypted room (decrypted
   *   and checked against its hash before the file appears).
   * @param filePath Where to write it; its folder must exist.
   * @param opts As for `download`.
   * @throws {ValidationError} when the folder cannot be written (before any request), or a bad source.
   * @throws {MatrixError} e.g. 404 M_NOT_FOUND.
   * @throws {ResponseTooLargeError} when the body is larger than `maxBytes`.
   * @throws {AttachmentHashError} when an encrypted attachment does not match its hash.
   * @throws {ConnectionError} `ERR_RESPONSE_TRUNCATED` when the body was cut short; {@link TimeoutError} when it stalled.
   * @example
   * await session.media.downloadToFile(mxc, './downloads/cat.png');
   */
  async downloadToFile(source: MediaSource, filePath: string, opts: DownloadOptions = {}): Promise<SavedMedia> {
    check.string('filePath', filePath, { max: 4096 });
    const temp = join(dirname(filePath), `.${basename(filePath)}.${randomBytes(6).toString('hex')}.part`);
    // Opened first, so an unwritable folder fails before any request.
    const fd = await promisify(open)(temp, 'wx').catch((error: NodeJS.ErrnoException) => {
      throw new ValidationError('filePath', `must be in a folder that can be written (${error.code ?? 'unwritable'})`);
    });
    let out: ReturnType<typeof createWriteStream> | undefined;
    try {
      const { stream, ...meta } = await this.download(source, opts);
      // A callback-based stream on the raw descriptor: FileHandle's promise per write costs a
      // third of the throughput in GC. flush: fsync before close, so the rename never exposes
      // a file whose bytes are not on disk.
      out = createWriteStream(temp, { fd, flush: true });
      await pipeline(stream, out);
      await rename(temp, filePath);
      return { ...meta, path: filePath, bytes: out.bytesWritten };
    } catch (error) {
      if (!out) await promisify(close)(fd).catch(() => undefined); // the stream closes it otherwise
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * A thumbnail of an image (or video) in the media repository, as a stream; the server picks
   * the nearest size it has to `width`×`height`.
   *
   * @throws {ValidationError} bad sizes or method.
   * @throws {MatrixError} e.g. 400 when the media cannot be thumbnailed, 404.
   * @example
   * const thumb = await session.media.thumbnail(mxc, { width: 96, height: 96, method: 'crop' });
   */
  async thumbnail(mxc: string, opts: ThumbnailOptions): Promise<MediaDownload> {
    const parts = parseMxc(mxc);
    checkThumbnail(opts);
    return this.#get(parts, 'thumbnail', thumbnailQuery(opts), opts);
  }

  /**
   * GET /media/config: the server's media settings, chiefly `m.upload.size`. Cached for an
   * hour (MEDIA_CONFIG_CACHE_MS), and asked again after an upload is refused as too large.
   *
   * @example
   * const limit = (await session.media.config())['m.upload.size'];
   */
  async config(options?: RequestOptions): Promise<MediaConfig> {
    const cached = this.#config;
    if (cached && Date.now() - cached.at < MEDIA_CONFIG_CACHE_MS) return cached.value;
    const authed = await this.#authenticated(options);
    const value = await this.core.request<MediaConfig>(
      { method: 'GET', path: authed ? '/_matrix/client/v1/media/config' : '/_matrix/media/v3/config' },
      options,
    );
    this.#config = { at: Date.now(), value };
    return value;
  }

  /**
   * The largest upload the server accepts, in bytes (`m.upload.size` of `config()`), or
   * undefined when it does not say (or the config cannot be had: the upload itself will tell).
   */
  async uploadLimit(options?: RequestOptions): Promise<number | undefined> {
    try {
      return uploadSize(await this.config(options));
    } catch (error) {
      if (error instanceof MatrixError) return undefined; // no config endpoint: no known limit
      throw error;
    }
  }

  /**
   * GET /media/preview_url: the server's preview (OpenGraph data) of `url`, as of `ts` (ms
   * since epoch) when given. The server fetches the page; it may refuse (403/404 when previews
   * are off).
   *
   * @throws {ValidationError} when `url` is not an http(s) URL.
   * @example
   * const preview = await session.media.previewUrl('https://matrix.org');
   * console.log(preview['og:title']);
   */
  async previewUrl(url: string, ts?: number, options?: RequestOptions): Promise<UrlPreview> {
    check.string('url', url, { max: 8192 });
    if (!/^https?:\/\/[^\s]+$/i.test(url)) throw new ValidationError('url', 'must be an http:// or https:// URL');
    check.optional(ts, (v) => check.int('ts', v));
    const authed = await this.#authenticated(options);
    return this.core.request(
      {
        method: 'GET',
        path: authed ? '/_matrix/client/v1/media/preview_url' : '/_matrix/media/v3/preview_url',
        query: { url, ts },
      },
      options,
    );
  }

  /**
   * The authenticated download URL of `mxc` (spec v1.11), for apps that fetch and show media
   * themselves. Fetching it needs the session's access token in an `Authorization: Bearer`
   * header; the token is never put in a URL (URLs end up in logs, caches and Referer headers).
   *
   * @param opts `filename`: a file name to serve it under (the /download/{…}/{fileName} form).
   * @throws {ValidationError} a bad URI.
   * @example
   * const url = session.media.downloadUrl(mxc);
   * const res = await fetch(url, { headers: { Authorization: `Bearer ${session.getAccessToken()}` } });
   */
  downloadUrl(mxc: string, opts: { filename?: string } = {}): string {
    const { serverName, mediaId } = parseMxc(mxc);
    check.object('opts', opts);
    check.optional(opts.filename, (v) => check.string('filename', v, FILENAME));
    const base = path`/_matrix/client/v1/media/download/${serverName}/${mediaId}`;
    return this.core.baseUrl + (opts.filename === undefined ? base : base + path`/${opts.filename}`);
  }

  /** The authenticated thumbnail URL of `mxc`; like `downloadUrl`, it needs the Authorization header. */
  thumbnailUrl(mxc: string, opts: ThumbnailOptions): string {
    const { serverName, mediaId } = parseMxc(mxc);
    checkThumbnail(opts);
    return this.core.baseUrl + path`/_matrix/client/v1/media/thumbnail/${serverName}/${mediaId}` + queryString(thumbnailQuery(opts));
  }

  /**
   * Splits an `mxc://` URI into server name and media ID (the exported `parseMxc`).
   *
   * @throws {ValidationError} when it is not one.
   */
  parseMxc(mxc: string): MxcParts {
    return parseMxc(mxc);
  }

  /** The body's length, known or learnt by buffering a stream, checked against the upload limit. */
  async #body(data: BodyData, opts: UploadOptions): Promise<{ data: BodyData; length: number }> {
    // The data is checked (a file's length read) before the limit is asked for: bad input sends nothing.
    const body = await resolveBody(data, opts.size, () => this.uploadLimit(opts));
    const limit = await this.uploadLimit(opts);
    if (limit !== undefined && body.length > limit) throw new MediaTooLargeError(limit, body.length);
    return body;
  }

  /** An upload through the core; a 413 means the cached limit is stale. */
  async #send<T>(spec: RequestSpec, options: RequestOptions): Promise<T> {
    try {
      return await this.core.request<T>(spec, options);
    } catch (error) {
      if (error instanceof MatrixError && error.httpStatus === 413) this.#config = undefined;
      throw error;
    }
  }

  /** GET of a download or thumbnail, authenticated or legacy, as a stream. */
  async #get(
    { serverName, mediaId }: MxcParts,
    kind: 'download' | 'thumbnail',
    query: Record<string, string | number | boolean | undefined>,
    opts: DownloadOptions,
  ): Promise<MediaDownload> {
    const authed = await this.#authenticated(opts);
    const spec: RequestSpec = {
      method: 'GET',
      path: authed
        ? path`/_matrix/client/v1/media/${kind}/${serverName}/${mediaId}`
        : path`/_matrix/media/v3/${kind}/${serverName}/${mediaId}`,
      // The legacy endpoints redirect only when told the client can follow.
      query: authed ? query : { ...query, allow_redirect: true },
      followRedirects: true,
      maxResponseBytes: opts.maxBytes,
      headers: { Accept: '*/*' },
      auth: authed ? 'required' : 'optional',
    };
    // The server may hold the request for timeout_ms before it answers: the attempt must outlast that.
    if (opts.waitForUploadMs !== undefined) spec.timeoutMs = Math.max(this.core.timeoutMs, opts.waitForUploadMs + 10_000);
    const { stream, contentType, contentLength, filename }: StreamedResponse = await this.core.stream(spec, opts);
    return { stream, contentType, contentLength, filename };
  }

  /** Whether to use the authenticated media endpoints: /versions lists v1.11 or later (or the stable MSC3916 flag). */
  async #authenticated(options?: RequestOptions): Promise<boolean> {
    const server = this.session.server;
    return (await server.supportsVersion('v1.11', options)) || (await server.supportsFeature('org.matrix.msc3916.stable', options));
  }
}

function thumbnailQuery(opts: ThumbnailOptions): Record<string, string | number | boolean | undefined> {
  return { width: opts.width, height: opts.height, method: opts.method, animated: opts.animated, timeout_ms: opts.waitForUploadMs };
}
