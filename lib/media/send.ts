import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { RoomEvent, type FileContent, type FileInfo, type FileMsgtype, type RoomEvent as Built } from '../builders/room-event';
import { asBuffer, checkContentType, knownLength, type BodyData, type ProgressListener } from '../core/body';
import { ValidationError } from '../core/errors';
import type { RequestOptions } from '../core/request';
import { check } from '../core/validate';
import type { RoomMessaging } from '../resources/room-messaging';
import type { Crypto } from '../resources/crypto';
import type { Media } from '../resources/media';
import { AttachmentEncryptor, type EncryptedFile } from './attachment';
import { IMAGE_HEAD_BYTES, imageHeader } from './image-info';
import { resolveBody } from './source';

/** A thumbnail to upload with an image or video (and reference as `thumbnail_url` / `thumbnail_file`). */
export interface MediaThumbnail {
  /** The thumbnail's bytes: like the media's own data. */
  data: BodyData;
  /** Its type; read from a PNG/JPEG/GIF/WebP header otherwise. */
  contentType?: string;
  /** The length of a stream. */
  size?: number;
  /** Its width; read from the header of a PNG/JPEG/GIF/WebP otherwise. */
  w?: number;
  /** Its height, like `w`. */
  h?: number;
}

/** What `rooms.sendImage`, `sendFile`, `sendVideo`, `sendAudio` and `sendVoice` take besides the data. */
export interface SendMediaOptions extends RequestOptions {
  /** The file name shown; the base name of a file path by default, else e.g. `image.png`. */
  filename?: string;
  /** A caption: sent as the body, with the file name beside it in `filename`. */
  caption?: string;
  /** The mimetype; read from a PNG/JPEG/GIF/WebP header, or guessed from the file name, otherwise. */
  contentType?: string;
  /** The length of a stream, in bytes (see `media.upload`). */
  size?: number;
  /** Width in pixels (images, videos); read from a PNG/JPEG/GIF/WebP header when not given. */
  w?: number;
  /** Height in pixels, like `w`. */
  h?: number;
  /** Duration in milliseconds (audio, video; required for a voice message). */
  duration?: number;
  /** Voice messages: amplitudes from 0 to 1024 over the recording. */
  waveform?: number[];
  /** Uploaded too, and referenced from `info` (images and videos). */
  thumbnail?: MediaThumbnail;
  /** Upload progress of the media itself, `(sent, total)`. */
  onProgress?: ProgressListener;
  /** The send's transaction ID (generated when absent). */
  txnId?: string;
}

/** What a media send helper returns: the event's ID and the content that was sent. */
export interface SentMedia {
  /** The sent event's ID. */
  event_id: string;
  /** The content sent: its `url` (or `file`) is the uploaded media's mxc:// URI. */
  content: FileContent;
}

/** The kinds of media message the send helpers make. */
export type MediaKind = 'image' | 'file' | 'video' | 'audio' | 'voice';

const MSGTYPE: Record<MediaKind, FileMsgtype> = { image: 'm.image', file: 'm.file', video: 'm.video', audio: 'm.audio', voice: 'm.audio' };

/** A media body resolved, as it goes into an event: where it is, and what it is. */
interface Uploaded {
  ref: { url: string } | { file: EncryptedFile };
  info: { mimetype: string; size: number; w?: number; h?: number };
  /** The file name: the one given, or the kind with the extension of the type (`image.png`). */
  name: string;
}

function checkDims(name: string, v: { w?: number; h?: number }): void {
  check.optional(v.w, (w) => check.int(`${name}w`, w, { min: 1 }));
  check.optional(v.h, (h) => check.int(`${name}h`, h, { min: 1 }));
}

function checkSendOptions(kind: MediaKind, o: SendMediaOptions): void {
  check.object('opts', o);
  check.optional(o.filename, (v) => check.string('filename', v, { max: 255 }));
  check.optional(o.caption, (v) => check.string('caption', v, { max: 65536, multiline: true }));
  check.optional(o.contentType, (v) => checkContentType('contentType', v));
  check.optional(o.size, (v) => check.int('size', v));
  checkDims('', o);
  if (kind === 'voice') check.int('duration', o.duration);
  else check.optional(o.duration, (v) => check.int('duration', v));
  check.optional(o.waveform, (v) => check.array('waveform', v, (name, a) => check.int(name, a, { max: 1024 })));
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new ValidationError('onProgress', 'must be a function');
  check.optional(o.txnId, (v) => check.string('txnId', v, { max: 255 }));
  check.optional(o.thumbnail, (t) => {
    check.object('thumbnail', t);
    check.optional(t.contentType, (v) => checkContentType('thumbnail.contentType', v));
    check.optional(t.size, (v) => check.int('thumbnail.size', v));
    checkDims('thumbnail.', t);
  });
}

/**
 * Uploads `data` and sends it to `roomId` as a `kind` message. The one place media sending
 * asks whether the room is encrypted (`rooms.isEncrypted`): in an encrypted room the file
 * and its thumbnail are encrypted before upload and referenced as `file` / `thumbnail_file`.
 * Everything is checked before the first request.
 */
export async function sendMedia(
  rooms: RoomMessaging,
  media: Media,
  crypto: Pick<Crypto, 'ensureRunning'>,
  kind: MediaKind,
  roomId: string,
  data: BodyData,
  opts: SendMediaOptions,
): Promise<SentMedia> {
  check.roomId('roomId', roomId);
  checkSendOptions(kind, opts);
  await knownLength('data', data); // an unreadable file or a wrong type fails before any request
  if (opts.thumbnail) await knownLength('thumbnail.data', opts.thumbnail.data);
  const options: RequestOptions = { signal: opts.signal, timeoutMs: opts.timeoutMs, maxRetries: opts.maxRetries };

  const encrypted = await rooms.isEncrypted(roomId, options);
  // Refused before the upload, not after it, when the event could not be encrypted anyway.
  if (encrypted) await crypto.ensureRunning(roomId);
  const main = await uploadPart(media, data, opts.size, encrypted, { ...opts, name: opts.filename ?? defaultName(kind, data) }, options);
  const name = main.name;
  const thumb = opts.thumbnail && (await uploadPart(media, opts.thumbnail.data, opts.thumbnail.size, encrypted, { ...opts.thumbnail }, options));

  const info: FileInfo = { ...main.info };
  if (kind !== 'image' && kind !== 'video') {
    delete info.w;
    delete info.h;
  }
  if (opts.duration !== undefined) info.duration = opts.duration;
  if (thumb) {
    if ('url' in thumb.ref) info.thumbnail_url = thumb.ref.url;
    else info.thumbnail_file = thumb.ref.file;
    info.thumbnail_info = thumb.info;
  }
  const event: Built<FileContent> =
    kind === 'voice'
      ? RoomEvent.voice(roomId, { ...main.ref, duration: opts.duration!, waveform: opts.waveform, mimetype: info.mimetype, size: info.size, filename: name }, opts.txnId)
      : RoomEvent.file(
          roomId,
          { ...main.ref, body: opts.caption ?? name, filename: opts.caption === undefined ? undefined : name, info: withoutUndefined(info), msgtype: MSGTYPE[kind] },
          opts.txnId,
        );
  const res = await rooms.sendEvent(event, options);
  return { event_id: res.event_id, content: event.content };
}

/** Learns the body's length (buffering a stream without one), reads its header, encrypts if asked, uploads. */
async function uploadPart(
  media: Media,
  data: BodyData,
  size: number | undefined,
  encrypted: boolean,
  about: { name?: string | ((mimetype: string) => string); contentType?: string; w?: number; h?: number; onProgress?: ProgressListener },
  options: RequestOptions,
): Promise<Uploaded> {
  const body = await resolveBody(data, size, () => media.uploadLimit(options), IMAGE_HEAD_BYTES);
  const header = imageHeader(body.head);
  const given = typeof about.name === 'string' ? about.name : undefined;
  const mimetype = about.contentType ?? header?.mimetype ?? ((given && mime().lookup(given)) || 'application/octet-stream');
  const name = typeof about.name === 'function' ? about.name(mimetype) : about.name;
  const info = { mimetype, size: body.length, w: about.w ?? header?.w, h: about.h ?? header?.h };
  const upload = { ...options, size: body.length, onProgress: about.onProgress };
  if (!encrypted) {
    const url = await media.upload(body.data, { ...upload, contentType: mimetype, filename: name });
    return { ref: { url }, info, name: name ?? '' };
  }
  // Encrypted: application/octet-stream and no file name on the server, which sees only ciphertext.
  const encryptor = new AttachmentEncryptor();
  const open = opener(body.data);
  const ciphertext = open ? () => pipeline(open(), encryptor.stream(), () => undefined) : pipeline(body.data as Readable, encryptor.stream(), () => undefined);
  const url = await media.upload(ciphertext, upload);
  return { ref: { file: encryptor.file(url) }, info, name: name ?? '' };
}

/** A function that opens the data anew (bytes, a file, a factory), or undefined for a one-shot stream. */
function opener(data: BodyData): (() => Readable) | undefined {
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) {
    const buf = asBuffer(data);
    return () => Readable.from([buf]);
  }
  if (typeof data === 'string') return () => createReadStream(data);
  if (typeof data === 'function') return data;
  return undefined;
}

/** A file path's base name; otherwise, once the type is known, the kind with its extension (`image.png`). */
function defaultName(kind: MediaKind, data: BodyData): string | ((mimetype: string) => string) {
  if (typeof data === 'string') return basename(data);
  if (kind === 'voice') return 'Voice message.ogg';
  return (mimetype) => {
    const ext = mime().extension(mimetype);
    return ext ? `${kind}.${ext}` : kind;
  };
}

function withoutUndefined(info: FileInfo): FileInfo {
  const out: FileInfo = {};
  for (const [key, v] of Object.entries(info)) if (v !== undefined) out[key] = v;
  return out;
}

type MimeTypes = { lookup(name: string): string | false; extension(type: string): string | false };
let mimeTypes: MimeTypes | undefined;

/** mime-types (extension ⇄ type), loaded on first use: its database costs milliseconds at import. */
function mime(): MimeTypes {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (mimeTypes ??= require('mime-types') as MimeTypes);
}
