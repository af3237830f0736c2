import { randomBytes } from 'node:crypto';
import { ValidationError } from '../core/errors';
import { check } from '../core/validate';
import { checkEncryptedFile, type EncryptedFile } from '../media/attachment';
import type { ClientEvent } from '../types';

/**
 * A message-like event ready for `rooms.sendEvent`. The transaction ID is fixed when the
 * event is built, so every retry of the send reuses it and the server sends it once.
 */
export interface RoomEvent<C = Record<string, unknown>> {
  /** The room to send it to. */
  readonly roomId: string;
  /** The event type, e.g. `m.room.message` (the type sent in clear; encrypted rooms get `m.room.encrypted`). */
  readonly type: string;
  /** The event's content, as it goes on the wire. */
  readonly content: C;
  /** The transaction ID: the server creates one event per txnId and device, however often it is sent. */
  readonly txnId: string;
}

/** The content of an m.text, m.notice or m.emote message (spec: m.room.message msgtypes). */
export interface TextContent {
  /** `m.text`, `m.notice` (from a bot) or `m.emote` (an action). */
  msgtype: 'm.text' | 'm.notice' | 'm.emote';
  /** The plain text; for an HTML message, what clients without HTML show. */
  body: string;
  /** `org.matrix.custom.html` when `formatted_body` is set. */
  format?: 'org.matrix.custom.html';
  /** The HTML version of the message. */
  formatted_body?: string;
  /** A relation to another event: a reply, or a message in a thread. */
  'm.relates_to'?: RelatesTo;
  /** Who the message mentions (spec: User and room mentions); `{}` mentions nobody. */
  'm.mentions'?: {
    /** The users mentioned. */
    user_ids?: string[];
    /** True when the whole room is mentioned (`@room`). */
    room?: boolean;
  };
}

/** An event's `m.relates_to` (spec: Relationships): a thread, a replacement, an annotation, a reply. */
export interface RelatesTo {
  /** The relation: `m.thread`, `m.replace`, `m.annotation`, `m.reference`; absent for a plain reply. */
  rel_type?: string;
  /** The event related to (a thread's root, the event replaced or annotated). */
  event_id?: string;
  /** For `m.annotation`: the reaction key, usually an emoji. */
  key?: string;
  /** In a thread: true when `m.in_reply_to` only points to the thread's latest event for clients without threads. */
  is_falling_back?: boolean;
  /** A reply: the event answered. */
  'm.in_reply_to'?: {
    /** The ID of the event answered. */
    event_id: string;
  };
}

/** The msgtypes of a file message. */
export type FileMsgtype = 'm.file' | 'm.image' | 'm.audio' | 'm.video';

/** Metadata about a file (spec: m.room.message msgtypes; all optional). */
export interface FileInfo {
  /** The file's type, e.g. `image/png`. */
  mimetype?: string;
  /** Size in bytes (of the plaintext, for an encrypted file). */
  size?: number;
  /** Width in pixels (images, videos). */
  w?: number;
  /** Height in pixels (images, videos). */
  h?: number;
  /** Duration in milliseconds (audio, video). */
  duration?: number;
  /** The thumbnail's mxc:// URI, in a room that is not encrypted. */
  thumbnail_url?: string;
  /** The encrypted thumbnail, in an encrypted room (instead of thumbnail_url). */
  thumbnail_file?: EncryptedFile;
  /** The thumbnail's mimetype, size, w and h. */
  thumbnail_info?: ThumbnailInfo;
  [field: string]: unknown;
}

/** What `info.thumbnail_info` says of a thumbnail. */
export interface ThumbnailInfo {
  /** The thumbnail's type, e.g. `image/jpeg`. */
  mimetype?: string;
  /** Its size in bytes. */
  size?: number;
  /** Its width in pixels. */
  w?: number;
  /** Its height in pixels. */
  h?: number;
  [field: string]: unknown;
}

/** A file already uploaded, for `RoomEvent.file` and its kin: exactly one of `url` and `file`. */
export interface FileMessage {
  /** An mxc:// URI from a media upload (a room that is not encrypted). */
  url?: string;
  /** An encrypted attachment (an encrypted room), in place of `url`. */
  file?: EncryptedFile;
  /** The file name, or a caption when `filename` is given. */
  body: string;
  /** The file name, when `body` is a caption. */
  filename?: string;
  /** What is known of the file: mimetype, size, dimensions, thumbnail. */
  info?: FileInfo;
  /** m.file (the default), m.image, m.audio or m.video. */
  msgtype?: FileMsgtype;
}

/** The content of an m.file, m.image, m.audio or m.video message. */
export interface FileContent {
  /** m.file, m.image, m.audio or m.video. */
  msgtype: FileMsgtype;
  /** The file name, or the caption when `filename` is set. */
  body: string;
  /** Set in a room that is not encrypted; `file` otherwise. */
  url?: string;
  /** The encrypted attachment, in an encrypted room. */
  file?: EncryptedFile;
  /** The file name, when `body` is a caption. */
  filename?: string;
  /** Mimetype, size, dimensions, duration, thumbnail. */
  info?: FileInfo;
  [field: string]: unknown;
}

/** A voice message already uploaded, for `RoomEvent.voice`. */
export interface VoiceMessage {
  /** An mxc:// URI (a room that is not encrypted). */
  url?: string;
  /** An encrypted attachment (an encrypted room), in place of `url`. */
  file?: EncryptedFile;
  /** Length of the recording in milliseconds. */
  duration: number;
  /** Amplitudes from 0 to 1024 over the recording (MSC3246; Element shows up to about 100). */
  waveform?: number[];
  /** The recording's type, e.g. `audio/ogg`. */
  mimetype?: string;
  /** Its size in bytes. */
  size?: number;
  /** The text clients without voice messages show; "Voice message" by default. */
  body?: string;
  /** The file name in the extensible-event file block; "Voice message.ogg" by default. */
  filename?: string;
}

/** What an edit needs of the event it replaces (a ClientEvent has all of it). */
export interface EditTarget {
  /** The room of the message. */
  room_id: string;
  /** The message edited (the original, not an earlier edit). */
  event_id: string;
  /** The original's content, to keep its msgtype. */
  content?: Record<string, unknown>;
}

/** An `m.replace` edit of a text message (spec: Event replacements). */
export interface EditContent {
  /** The original's msgtype. */
  msgtype: TextContent['msgtype'];
  /** The fallback, `* new text`. */
  body: string;
  /** What clients show in place of the original. */
  'm.new_content': {
    /** The original's msgtype. */
    msgtype: TextContent['msgtype'];
    /** The new text. */
    body: string;
  };
  /** The replacement relation to the original. */
  'm.relates_to': {
    /** `m.replace`. */
    rel_type: 'm.replace';
    /** The original's event ID. */
    event_id: string;
  };
}

/** The content of an m.reaction event. */
export interface ReactionContent {
  /** The annotation of the event reacted to. */
  'm.relates_to': {
    /** Always `m.annotation`. */
    rel_type: 'm.annotation';
    /** The event reacted to. */
    event_id: string;
    /** The reaction, usually an emoji. */
    key: string;
  };
}

/** What a reply needs to know of the event it answers (a ClientEvent has all of it). */
export type ReplyTarget = Pick<ClientEvent, 'room_id' | 'event_id' | 'sender'> & {
  /** The answered event's content: its `m.relates_to` keeps the reply in the same thread. */
  content?: Record<string, unknown>;
};

// Random per process, so IDs from a restarted process never collide with earlier ones
// on the same device (the server scopes transaction IDs to the device).
const TXN_PREFIX = randomBytes(12).toString('base64url');
let txnCounter = 0;

/** A transaction ID unique to this process: a random prefix and a counter. */
export function newTxnId(): string {
  return `${TXN_PREFIX}.${(++txnCounter).toString(36)}`;
}

const BODY = { max: 65536, multiline: true };
const HTML = 'org.matrix.custom.html';

function build<C>(roomId: string, type: string, content: C, txnId: string | undefined): RoomEvent<C> {
  check.roomId('roomId', roomId);
  check.optional(txnId, (v) => check.string('txnId', v, { max: 255 }));
  return { roomId, type, content, txnId: txnId ?? newTxnId() };
}

/** The object without its undefined fields, so an event's content holds only what is set. */
function defined<T extends object>(value: T): T {
  const out = {} as Record<string, unknown>;
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}

/** Exactly one of `url` (an mxc:// URI) and `file` (an EncryptedFile). */
function checkSource(name: string, v: { url?: unknown; file?: unknown }): void {
  if ((v.url === undefined) === (v.file === undefined)) throw new ValidationError(name, 'must have exactly one of url and file');
  check.optional(v.url, (u) => check.mxcUri(`${name}.url`, u));
  check.optional(v.file, (f) => checkEncryptedFile(`${name}.file`, f));
}

function checkInfo(name: string, info: FileInfo): void {
  check.object(name, info);
  for (const field of ['size', 'w', 'h', 'duration'] as const) check.optional(info[field], (v) => check.int(`${name}.${field}`, v));
  check.optional(info.mimetype, (v) => check.string(`${name}.mimetype`, v, { max: 255 }));
  if (info.thumbnail_url !== undefined && info.thumbnail_file !== undefined) {
    throw new ValidationError(name, 'must not have both thumbnail_url and thumbnail_file');
  }
  check.optional(info.thumbnail_url, (v) => check.mxcUri(`${name}.thumbnail_url`, v));
  check.optional(info.thumbnail_file, (v) => checkEncryptedFile(`${name}.thumbnail_file`, v));
  check.optional(info.thumbnail_info, (v) => check.object(`${name}.thumbnail_info`, v));
}

const TEXT_MSGTYPES: ReadonlySet<unknown> = new Set(['m.text', 'm.notice', 'm.emote']);

function text(msgtype: TextContent['msgtype'], roomId: string, body: string, txnId?: string): RoomEvent<TextContent> {
  check.string('body', body, BODY);
  return build(roomId, 'm.room.message', { msgtype, body }, txnId);
}

/** A plain-text rendering of simple HTML, for the `body` that clients without HTML show. */
function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>|<\/p>|<\/li>|<\/h\d>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(lt|gt|quot|#39|nbsp|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ', amp: '&' })[e]!)
    .trim();
}

/** Builders for `rooms.sendEvent`, e.g. `RoomEvent.text(roomId, 'hello')`. */
export const RoomEvent = {
  /** An m.text message with a plain-text body (at most 65 536 characters). */
  text: (roomId: string, body: string, txnId?: string) => text('m.text', roomId, body, txnId),
  /** An m.notice: the msgtype bots send, which other bots do not answer. */
  notice: (roomId: string, body: string, txnId?: string) => text('m.notice', roomId, body, txnId),
  /** An m.emote, shown as an action (`* alice waves`). */
  emote: (roomId: string, body: string, txnId?: string) => text('m.emote', roomId, body, txnId),

  /** An HTML message; `plainBody` defaults to the HTML with its tags stripped. */
  html(roomId: string, html: string, plainBody?: string, txnId?: string): RoomEvent<TextContent> {
    check.string('html', html, BODY);
    check.optional(plainBody, (v) => check.string('plainBody', v, BODY));
    const body = plainBody ?? htmlToText(html);
    return build(roomId, 'm.room.message', { msgtype: 'm.text', body, format: HTML, formatted_body: html }, txnId);
  },

  /**
   * A file already uploaded to the media repository; `msgtype` defaults to m.file. In an
   * encrypted room it carries `file` (an EncryptedFile) instead of `url`. (`rooms.sendFile`
   * and its kin upload and build in one call.)
   */
  file(roomId: string, file: FileMessage, txnId?: string): RoomEvent<FileContent> {
    check.object('file', file);
    checkSource('file', file);
    check.string('file.body', file.body, BODY);
    check.optional(file.filename, (v) => check.string('file.filename', v, { max: 255 }));
    check.optional(file.info, (v) => checkInfo('file.info', v));
    const msgtype = file.msgtype ?? 'm.file';
    check.oneOf('file.msgtype', msgtype, ['m.file', 'm.image', 'm.audio', 'm.video'] as const);
    const { url, file: encrypted, body, filename, info } = file;
    return build(roomId, 'm.room.message', defined({ msgtype, body, url, file: encrypted, filename, info }), txnId);
  },

  /** An image already uploaded; `info` may carry its w, h, mimetype and size. */
  image(roomId: string, image: Omit<FileMessage, 'msgtype'>, txnId?: string): RoomEvent<FileContent> {
    check.object('image', image);
    return RoomEvent.file(roomId, { ...image, msgtype: 'm.image' }, txnId);
  },

  /** A video already uploaded; `info` may carry its w, h, duration, mimetype, size and thumbnail. */
  video(roomId: string, video: Omit<FileMessage, 'msgtype'>, txnId?: string): RoomEvent<FileContent> {
    check.object('video', video);
    return RoomEvent.file(roomId, { ...video, msgtype: 'm.video' }, txnId);
  },

  /** An audio file already uploaded; `info` may carry its duration, mimetype and size. */
  audio(roomId: string, audio: Omit<FileMessage, 'msgtype'>, txnId?: string): RoomEvent<FileContent> {
    check.object('audio', audio);
    return RoomEvent.file(roomId, { ...audio, msgtype: 'm.audio' }, txnId);
  },

  /**
   * A voice message already uploaded, as Element sends one: an m.audio with the MSC3245
   * voice marker (`org.matrix.msc3245.voice`) and the MSC1767 extensible-event blocks
   * (`org.matrix.msc1767.text`, `.file`, `.audio` with the duration and waveform).
   */
  voice(roomId: string, voice: VoiceMessage, txnId?: string): RoomEvent<FileContent> {
    check.object('voice', voice);
    checkSource('voice', voice);
    check.int('voice.duration', voice.duration);
    check.optional(voice.waveform, (v) => {
      check.array('voice.waveform', v, (name, a) => check.int(name, a, { max: 1024 }));
      if (v.length > 4096) throw new ValidationError('voice.waveform', 'must have at most 4096 entries');
    });
    check.optional(voice.mimetype, (v) => check.string('voice.mimetype', v, { max: 255 }));
    check.optional(voice.size, (v) => check.int('voice.size', v));
    const body = voice.body ?? 'Voice message';
    check.string('voice.body', body, BODY);
    const name = voice.filename ?? 'Voice message.ogg';
    check.string('voice.filename', name, { max: 255 });
    const { url, file, duration, waveform, mimetype, size } = voice;
    const content = defined({
      msgtype: 'm.audio' as const,
      body,
      url,
      file,
      info: defined({ duration, mimetype, size }),
      'org.matrix.msc1767.text': body,
      'org.matrix.msc1767.file': defined({ url, file, name, mimetype, size }),
      'org.matrix.msc1767.audio': defined({ duration, waveform }),
      'org.matrix.msc3245.voice': {},
    });
    return build(roomId, 'm.room.message', content, txnId);
  },

  /**
   * An edit (`m.replace`) of a text message: `m.new_content` holds the new text, and the
   * body is the fallback `* text` that clients without edits show. The msgtype of the
   * original (m.text, m.notice or m.emote, given its `content`) is kept.
   */
  edit(event: EditTarget, newBody: string, txnId?: string): RoomEvent<EditContent> {
    check.object('event', event);
    check.roomId('event.room_id', event.room_id);
    check.eventId('event.event_id', event.event_id);
    check.optional(event.content, (v) => check.object('event.content', v));
    check.string('newBody', newBody, BODY);
    const original = event.content?.msgtype;
    const msgtype = (TEXT_MSGTYPES.has(original) ? original : 'm.text') as TextContent['msgtype'];
    const content: EditContent = {
      msgtype,
      body: `* ${newBody}`,
      'm.new_content': { msgtype, body: newBody },
      'm.relates_to': { rel_type: 'm.replace', event_id: event.event_id },
    };
    return build(event.room_id, 'm.room.message', content, txnId);
  },

  /**
   * A text reply to `event`. A reply to an event inside a thread stays in that thread;
   * the replied-to sender is mentioned, as the spec asks of replies.
   */
  reply(event: ReplyTarget, body: string, txnId?: string): RoomEvent<TextContent> {
    check.object('event', event);
    check.roomId('event.room_id', event.room_id);
    check.eventId('event.event_id', event.event_id);
    check.userId('event.sender', event.sender);
    check.optional(event.content, (v) => check.object('event.content', v));
    check.string('body', body, BODY);
    const inReplyTo = { event_id: event.event_id };
    const relation = event.content?.['m.relates_to'] as RelatesTo | undefined;
    const relatesTo: RelatesTo =
      relation?.rel_type === 'm.thread' && typeof relation.event_id === 'string'
        ? { rel_type: 'm.thread', event_id: relation.event_id, is_falling_back: false, 'm.in_reply_to': inReplyTo }
        : { 'm.in_reply_to': inReplyTo };
    const content: TextContent = { msgtype: 'm.text', body, 'm.relates_to': relatesTo, 'm.mentions': { user_ids: [event.sender] } };
    return build(event.room_id, 'm.room.message', content, txnId);
  },

  /** An m.reaction (annotation) to `event`, usually with an emoji as the key. */
  reaction(event: Pick<ClientEvent, 'room_id' | 'event_id'>, key: string, txnId?: string): RoomEvent<ReactionContent> {
    check.object('event', event);
    check.roomId('event.room_id', event.room_id);
    check.eventId('event.event_id', event.event_id);
    check.string('key', key, { max: 1024 });
    const content: ReactionContent = { 'm.relates_to': { rel_type: 'm.annotation', event_id: event.event_id, key } };
    return build(event.room_id, 'm.reaction', content, txnId);
  },

  /** Any event type with any content. */
  custom<C extends Record<string, unknown>>(roomId: string, type: string, content: C, txnId?: string): RoomEvent<C> {
    check.string('type', type, { max: 255 });
    check.object('content', content);
    return build(roomId, type, content, txnId);
  },
};
