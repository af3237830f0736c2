import { RoomEvent, type EditTarget, type ReplyTarget } from '../builders/room-event';
import type { BodyData } from '../core/body';
import { path } from '../core/path';
import type { RequestOptions } from '../core/request';
import { check } from '../core/validate';
import { sendMedia, type SendMediaOptions, type SentMedia } from '../media/send';
import type { ClientEvent } from '../types';
import { Resource } from './resource';
import type { EventIdResponse } from './rooms';

/** A receipt: public read receipt, private one (only the user's own clients see it), or the fully-read marker. */
export type ReceiptType = 'm.read' | 'm.read.private' | 'm.fully_read';

/** What `rooms.setReadMarkers` moves: event IDs, each optional. */
export interface ReadMarkers {
  /** The fully-read marker (`m.fully_read`): where the user has read up to. */
  fullyRead?: string;
  /** A public read receipt (`m.read`). */
  read?: string;
  /** A private read receipt (`m.read.private`), seen only by the user's own clients. */
  readPrivate?: string;
}

const RECEIPTS: readonly ReceiptType[] = ['m.read', 'm.read.private', 'm.fully_read'];

/**
 * The messaging half of `session.rooms` (its base class): the helpers that build an event and
 * send it through `sendEvent` (text, HTML, notices, emotes, edits, replies, reactions, files and
 * images), and the typing, receipt and read-marker calls. Encryption is decided in one place,
 * `sendEvent` (and, for the files of the media helpers, `isEncrypted`), never here per helper.
 */
export abstract class RoomMessaging extends Resource {
  /**
   * PUT /rooms/{roomId}/send/{eventType}/{txnId}: what every helper here sends through
   * (implemented by Rooms, where the encryption decision is made).
   */
  abstract sendEvent(event: RoomEvent<object>, options?: RequestOptions): Promise<EventIdResponse>;

  /**
   * Sends an m.text message (`sendEvent(RoomEvent.text(roomId, body))`), encrypted in an
   * encrypted room. Each call makes a new transaction ID: calling twice sends twice.
   *
   * @param body The plain text, at most 65 536 characters.
   * @throws {ValidationError} a malformed room ID or body; nothing is sent.
   * @throws {CryptoNotStartedError} in an encrypted room while encryption is not started.
   * @throws {MatrixError} e.g. 403 M_FORBIDDEN when the user may not send there.
   * @example
   * await session.rooms.sendText(roomId, 'Hello, world');
   */
  async sendText(roomId: string, body: string, options?: RequestOptions): Promise<EventIdResponse> {
    return this.sendEvent(RoomEvent.text(roomId, body), options);
  }

  /** Sends an m.notice, the msgtype bots use so that other bots do not answer it. */
  async sendNotice(roomId: string, body: string, options?: RequestOptions): Promise<EventIdResponse> {
    return this.sendEvent(RoomEvent.notice(roomId, body), options);
  }

  /** Sends an HTML message; the plain body defaults to the HTML without tags. */
  async sendHtml(roomId: string, html: string, plainBody?: string, options?: RequestOptions): Promise<EventIdResponse> {
    return this.sendEvent(RoomEvent.html(roomId, html, plainBody), options);
  }

  /** Sends an m.emote (shown as "* alice waves"). */
  async sendEmote(roomId: string, body: string, options?: RequestOptions): Promise<EventIdResponse> {
    return this.sendEvent(RoomEvent.emote(roomId, body), options);
  }

  /**
   * Edits a text message (`m.replace`): clients show `newBody` in its place, and `* newBody`
   * where edits are not supported. Only the original sender's edits are honoured by clients.
   *
   * @example
   * const { event_id } = await session.rooms.sendText(roomId, 'helo');
   * await session.rooms.edit({ room_id: roomId, event_id }, 'hello');
   */
  async edit(event: EditTarget, newBody: string, options?: RequestOptions): Promise<EventIdResponse> {
    return this.sendEvent(RoomEvent.edit(event, newBody), options);
  }

  /**
   * Uploads an image and sends it as an m.image. Its mimetype, width and height come from
   * `opts` or, for PNG, JPEG, GIF and WebP, from the file's header; `opts.thumbnail` is
   * uploaded too. In an encrypted room the image (and thumbnail) are encrypted first and sent
   * as `file` / `thumbnail_file` (see `isEncrypted`).
   *
   * @param data Bytes, a file path, a Readable (give `opts.size`, or it is buffered up to the
   *   upload limit) or a function that opens one.
   * @throws {ValidationError} bad input, before any request.
   * @throws {MediaTooLargeError} larger than the server accepts, before the upload.
   * @throws {MatrixError} from the upload or the send.
   * @example
   * await session.rooms.sendImage(roomId, './cat.png');
   */
  async sendImage(roomId: string, data: BodyData, opts: SendMediaOptions = {}): Promise<SentMedia> {
    return sendMedia(this, this.session.media, this.session.crypto, 'image', roomId, data, opts);
  }

  /**
   * Uploads a file and sends it as an m.file (mimetype from `opts`, the header or the file
   * name's extension). Encrypted in an encrypted room, as `sendImage`.
   *
   * @example
   * await session.rooms.sendFile(roomId, './report.pdf', { caption: 'The report' });
   */
  async sendFile(roomId: string, data: BodyData, opts: SendMediaOptions = {}): Promise<SentMedia> {
    return sendMedia(this, this.session.media, this.session.crypto, 'file', roomId, data, opts);
  }

  /** Uploads a video and sends it as an m.video; give `w`, `h`, `duration` and a `thumbnail` when known. */
  async sendVideo(roomId: string, data: BodyData, opts: SendMediaOptions = {}): Promise<SentMedia> {
    return sendMedia(this, this.session.media, this.session.crypto, 'video', roomId, data, opts);
  }

  /** Uploads an audio file and sends it as an m.audio; give `duration` (ms) when known. */
  async sendAudio(roomId: string, data: BodyData, opts: SendMediaOptions = {}): Promise<SentMedia> {
    return sendMedia(this, this.session.media, this.session.crypto, 'audio', roomId, data, opts);
  }

  /**
   * Uploads a recording and sends it as a voice message, as Element does: an m.audio with
   * `org.matrix.msc3245.voice` and the MSC1767 blocks (`org.matrix.msc1767.audio` with
   * `duration` and `waveform`). `opts.duration` (ms) is required.
   *
   * @example
   * await session.rooms.sendVoice(roomId, './note.ogg', { duration: 4200, waveform: [0, 512, 1024, 256] });
   */
  async sendVoice(roomId: string, data: BodyData, opts: SendMediaOptions & { duration: number }): Promise<SentMedia> {
    return sendMedia(this, this.session.media, this.session.crypto, 'voice', roomId, data, opts);
  }

  /**
   * Whether the room is encrypted: what `sendEvent` and the media helpers go by. Known from
   * the sync loop and from state this session set; for a room not seen yet, its
   * `m.room.encryption` state is asked for once (404 M_NOT_FOUND: not encrypted); any other
   * failure is thrown, never taken as "not encrypted". Works without encryption started.
   *
   * @throws {MatrixError} e.g. 403 when the user may not read the room's state.
   * @example
   * if (await session.rooms.isEncrypted(roomId)) await session.crypto.start({ storeDir: './crypto' });
   */
  async isEncrypted(roomId: string, options?: RequestOptions): Promise<boolean> {
    return this.session.crypto.isRoomEncrypted(roomId, options);
  }

  /**
   * Replies to `event` with text (in its thread, if it is in one), mentioning its sender
   * unless that is the session's own user.
   *
   * @param event The event answered: any ClientEvent (from sync, `rooms.event`, …) has what
   *   is needed (`room_id`, `event_id`, `sender`, and `content` for the thread).
   * @param body The reply's plain text.
   * @throws {ValidationError} a malformed event or body; nothing is sent.
   * @throws {CryptoNotStartedError} in an encrypted room while encryption is not started.
   * @throws {MatrixError} e.g. 403 M_FORBIDDEN when the user may not send there.
   * @example
   * session.on('room.message', (roomId, event) => {
   *   if (event.content.body === '!ping') void session.rooms.reply(event, 'pong');
   * });
   */
  async reply(event: ReplyTarget, body: string, options?: RequestOptions): Promise<EventIdResponse> {
    const reply = RoomEvent.reply(event, body);
    if (event.sender === this.core.credentials.userId) reply.content['m.mentions'] = {};
    return this.sendEvent(reply, options);
  }

  /** Reacts to `event` with `key` (usually an emoji). */
  async react(event: Pick<ClientEvent, 'room_id' | 'event_id'>, key: string, options?: RequestOptions): Promise<EventIdResponse> {
    return this.sendEvent(RoomEvent.reaction(event, key), options);
  }

  /** PUT /rooms/{roomId}/typing/{userId} for the session's user; `timeoutMs` is how long the server shows it. */
  async setTyping(roomId: string, typing: boolean, timeoutMs?: number, options?: RequestOptions): Promise<void> {
    check.roomId('roomId', roomId);
    check.bool('typing', typing);
    check.optional(timeoutMs, (v) => check.int('timeoutMs', v, { max: 3_600_000 }));
    await this.core.request(
      {
        method: 'PUT',
        path: path`/_matrix/client/v3/rooms/${roomId}/typing/${this.ownUserId}`,
        body: { typing, timeout: timeoutMs },
        idempotency: 'safe',
      },
      options,
    );
  }

  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId}; `threadId` is a thread root's event ID or 'main'. */
  async sendReceipt(
    roomId: string,
    eventId: string,
    type: ReceiptType = 'm.read',
    threadId?: string,
    options?: RequestOptions,
  ): Promise<void> {
    check.roomId('roomId', roomId);
    check.eventId('eventId', eventId);
    check.oneOf('type', type, RECEIPTS);
    check.optional(threadId, (v) => v === 'main' || check.eventId('threadId', v));
    await this.core.request(
      {
        method: 'POST',
        path: path`/_matrix/client/v3/rooms/${roomId}/receipt/${type}/${eventId}`,
        body: { thread_id: threadId },
        idempotency: 'safe',
      },
      options,
    );
  }

  /** POST /rooms/{roomId}/read_markers: the fully-read marker and read receipts in one call. */
  async setReadMarkers(roomId: string, markers: ReadMarkers, options?: RequestOptions): Promise<void> {
    check.roomId('roomId', roomId);
    check.object('markers', markers);
    check.optional(markers.fullyRead, (v) => check.eventId('fullyRead', v));
    check.optional(markers.read, (v) => check.eventId('read', v));
    check.optional(markers.readPrivate, (v) => check.eventId('readPrivate', v));
    await this.core.request(
      {
        method: 'POST',
        path: path`/_matrix/client/v3/rooms/${roomId}/read_markers`,
        body: { 'm.fully_read': markers.fullyRead, 'm.read': markers.read, 'm.read.private': markers.readPrivate },
        idempotency: 'safe',
      },
      options,
    );
  }
}
