import { randomBytes } from 'node:crypto';
import { check } from '../core/validate';
import type { ClientEvent } from '../types';

/**
 * A message-like event ready for `rooms.sendEvent`. The transaction ID is fixed when the
 * event is built, so every retry of the send reuses it and the server sends it once.
 */
export interface RoomEvent<C = Record<string, unknown>> {
  readonly roomId: string;
  readonly type: string;
  readonly content: C;
  readonly txnId: string;
}

export interface TextContent {
  msgtype: 'm.text' | 'm.notice' | 'm.emote';
  body: string;
  format?: 'org.matrix.custom.html';
  formatted_body?: string;
  'm.relates_to'?: RelatesTo;
  'm.mentions'?: { user_ids?: string[]; room?: boolean };
}

export interface RelatesTo {
  rel_type?: string;
  event_id?: string;
  key?: string;
  is_falling_back?: boolean;
  'm.in_reply_to'?: { event_id: string };
}

export type FileMsgtype = 'm.file' | 'm.image' | 'm.audio' | 'm.video';

/** Metadata about a file (spec: m.room.message msgtypes; all optional). */
export interface FileInfo {
  mimetype?: string;
  size?: number;
  w?: number;
  h?: number;
  duration?: number;
  thumbnail_url?: string;
  thumbnail_info?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface FileMessage {
  /** An mxc:// URI from a media upload. */
  url: string;
  /** The file name, or a caption when `filename` is given. */
  body: string;
  filename?: string;
  info?: FileInfo;
  msgtype?: FileMsgtype;
}

export interface FileContent {
  msgtype: FileMsgtype;
  body: string;
  url: string;
  filename?: string;
  info?: FileInfo;
}

export interface ReactionContent {
  'm.relates_to': { rel_type: 'm.annotation'; event_id: string; key: string };
}

/** What a reply needs to know of the event it answers (a ClientEvent has all of it). */
export type ReplyTarget = Pick<ClientEvent, 'room_id' | 'event_id' | 'sender'> & { content?: Record<string, unknown> };

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
  text: (roomId: string, body: string, txnId?: string) => text('m.text', roomId, body, txnId),
  notice: (roomId: string, body: string, txnId?: string) => text('m.notice', roomId, body, txnId),
  emote: (roomId: string, body: string, txnId?: string) => text('m.emote', roomId, body, txnId),

  /** An HTML message; `plainBody` defaults to the HTML with its tags stripped. */
  html(roomId: string, html: string, plainBody?: string, txnId?: string): RoomEvent<TextContent> {
    check.string('html', html, BODY);
    check.optional(plainBody, (v) => check.string('plainBody', v, BODY));
    const body = plainBody ?? htmlToText(html);
    return build(roomId, 'm.room.message', { msgtype: 'm.text', body, format: HTML, formatted_body: html }, txnId);
  },

  /** A file already uploaded to the media repository; `msgtype` defaults to m.file. */
  file(roomId: string, file: FileMessage, txnId?: string): RoomEvent<FileContent> {
    check.object('file', file);
    check.mxcUri('file.url', file.url);
    check.string('file.body', file.body, BODY);
    check.optional(file.filename, (v) => check.string('file.filename', v, { max: 255 }));
    check.optional(file.info, (v) => check.object('file.info', v));
    const msgtype = file.msgtype ?? 'm.file';
    check.oneOf('file.msgtype', msgtype, ['m.file', 'm.image', 'm.audio', 'm.video'] as const);
    const { url, body, filename, info } = file;
    return build(roomId, 'm.room.message', { msgtype, body, url, filename, info }, txnId);
  },

  /** An image already uploaded; `info` may carry its w, h, mimetype and size. */
  image(roomId: string, image: Omit<FileMessage, 'msgtype'>, txnId?: string): RoomEvent<FileContent> {
    check.object('image', image);
    return RoomEvent.file(roomId, { ...image, msgtype: 'm.image' }, txnId);
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
