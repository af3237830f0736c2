import { ValidationError } from '../core/errors';
import { path } from '../core/path';
import type { RequestCore, RequestOptions } from '../core/request';
import { check } from '../core/validate';
import type { MatrixSession } from '../session';
import { guardSync } from '../sync/guard';
import { registerHookTarget } from '../sync/hooks';
import { SYNC_MARGIN_MS, SyncEngine, type SyncStartOptions } from '../sync/loop';
import type { SyncEventStream, SyncEventsOptions } from '../sync/stream';
import { type Presence, type SyncItemKind, type SyncState } from '../sync/types';
import type { SyncResponse } from '../types';
import { Resource } from './resource';

export type { Presence } from '../sync/types';
export type { SyncStartOptions } from '../sync/loop';
export type { SyncEventsOptions } from '../sync/stream';
export type { RoomGap, GapReason } from '../sync/gaps';

const PRESENCE: readonly Presence[] = ['offline', 'online', 'unavailable'];
const ITEM_KINDS: readonly SyncItemKind[] = [
  'timeline',
  'state',
  'invite',
  'ephemeral',
  'room_account_data',
  'account_data',
  'presence',
  'to_device',
];
const STORE_METHODS = ['getSyncToken', 'setSyncToken', 'getFilter', 'setFilter'];
const POSITION_METHODS = ['getLastEventId', 'setSyncPosition'];

/** Options of `session.sync.once()`. */
export interface SyncOnceOptions {
  /** A filter ID, or a filter object sent inline. */
  filter?: string | Record<string, unknown>;
  /** The `next_batch` of a previous response: only what happened since. */
  since?: string;
  /** The full state of every room, even with `since`. */
  fullState?: boolean;
  /** The presence to set with the request. */
  setPresence?: Presence;
  /** How long the server may hold the request open waiting for events, in ms (default 0). */
  timeout?: number;
}

function checkStore(store: unknown): void {
  if (store === undefined) return;
  const methods = (typeof store === 'object' && store !== null ? store : {}) as Record<string, unknown>;
  if (!STORE_METHODS.every((m) => typeof methods[m] === 'function')) {
    throw new ValidationError('store', 'must have getSyncToken, setSyncToken, getFilter and setFilter methods');
  }
  const positions = POSITION_METHODS.filter((m) => methods[m] !== undefined);
  if (positions.length > 0 && !POSITION_METHODS.every((m) => typeof methods[m] === 'function')) {
    throw new ValidationError('store', 'must have both getLastEventId and setSyncPosition methods, or neither');
  }
}

function checkFilter(filter: unknown): void {
  if (typeof filter !== 'string') check.optional(filter, (f) => check.object('filter', f));
  else check.string('filter', filter, { max: 4096 });
}

export class Sync extends Resource {
  readonly #engine: SyncEngine;

  constructor(session: MatrixSession, core: RequestCore) {
    super(session, core);
    this.#engine = new SyncEngine(session, core);
    registerHookTarget(this, this.#engine);
  }

  /**
   * GET /_matrix/client/v3/sync: one sync request, returned as the server sent it, after the
   * same shape check the loop makes: timeline and state events get their `room_id`;
   * malformed items (an event that is not an object with a string `type`, a room section
   * of the wrong shape) are left out and reported as `sync.error` with source `malformed`.
   * Nothing is filled or saved: gaps (`limited` timelines) are the caller's to page.
   *
   * @param opts `since` (a previous `next_batch`), `filter` (an ID or an object sent inline),
   *   `timeout` (ms the server may wait for events, default 0), `fullState`, `setPresence`.
   * @throws {ValidationError} on bad options, before any request.
   * @throws {InvalidResponseError} when the body's top level is malformed (`next_batch`
   *   not a token, `rooms` or one of its maps not an object, a top-level `events` not an array).
   * @throws {MatrixError} when the server answers with an error.
   * @example
   * const first = await session.sync.once({ filter: { room: { timeline: { limit: 10 } } } });
   * const next = await session.sync.once({ since: first.next_batch, timeout: 30_000 });
   */
  async once(opts: SyncOnceOptions = {}, options?: RequestOptions): Promise<SyncResponse> {
    check.object('opts', opts);
    const { filter, since, fullState, setPresence, timeout = 0 } = opts;
    checkFilter(filter);
    check.optional(since, (v) => check.string('since', v, { max: 4096 }));
    check.optional(fullState, (v) => check.bool('fullState', v));
    check.optional(setPresence, (v) => check.oneOf('setPresence', v, PRESENCE));
    check.int('timeout', timeout, { max: 3_600_000 });
    const body = await this.core.request<SyncResponse>(
      {
        method: 'GET',
        path: '/_matrix/client/v3/sync',
        query: {
          filter: typeof filter === 'object' ? JSON.stringify(filter) : filter,
          since,
          full_state: fullState,
          set_presence: setPresence,
          timeout,
        },
        timeoutMs: timeout + SYNC_MARGIN_MS,
        required: ['next_batch'],
      },
      options,
    );
    const malformed = guardSync(body);
    if (malformed) this.#engine.reportMalformed(malformed);
    return body;
  }

  /** POST /_matrix/client/v3/user/{userId}/filter: uploads a filter; resolves with its ID. */
  async createFilter(filter: Record<string, unknown>, options?: RequestOptions): Promise<string> {
    check.object('filter', filter);
    const res = await this.core.request<{ filter_id: string }>(
      {
        method: 'POST',
        path: path`/_matrix/client/v3/user/${this.ownUserId}/filter`,
        body: filter,
        idempotency: 'safe',
        required: ['filter_id'],
      },
      options,
    );
    return res.filter_id;
  }

  /** GET /_matrix/client/v3/user/{userId}/filter/{filterId}. */
  async getFilter(filterId: string, options?: RequestOptions): Promise<Record<string, unknown>> {
    check.string('filterId', filterId, { max: 4096 });
    return this.core.request(
      { method: 'GET', path: path`/_matrix/client/v3/user/${this.ownUserId}/filter/${filterId}` },
      options,
    );
  }

  /**
   * Starts the sync loop. Events arrive on the session (`room.message`, …) and through
   * `events()`; gaps (limited timelines) are filled from the room's history, or reported as
   * `room.gap`. Resolves as soon as the loop runs, or with `waitForFirstBatch: true` once
   * its first batch has been handled (like `await start(); await prepared()`).
   *
   * @param opts The loop's options (SyncStartOptions): filter, timeout, store, fillGaps, maxGapFill, …
   * @throws {ValidationError} on bad options.
   * @throws {NotLoggedInError} without an access token.
   * @throws {MatrixSessionError} when the loop already runs; with `waitForFirstBatch`,
   *   whatever ends the loop before its first batch (see `prepared()`).
   * @example
   * session.on('room.message', (roomId, event) => void session.rooms.reply(event, 'pong'));
   * await session.sync.start({ store: new FileSyncStore('./bot-sync.json'), waitForFirstBatch: true });
   */
  async start(opts: SyncStartOptions = {}): Promise<void> {
    check.object('opts', opts);
    checkFilter(opts.filter);
    check.optional(opts.timeout, (v) => check.int('timeout', v, { max: 3_600_000 }));
    check.optional(opts.setPresence, (v) => check.oneOf('setPresence', v, PRESENCE));
    check.optional(opts.fullState, (v) => check.bool('fullState', v));
    check.optional(opts.saveTokenBeforeDispatch, (v) => check.bool('saveTokenBeforeDispatch', v));
    check.optional(opts.autoJoin, (v) => check.bool('autoJoin', v));
    check.optional(opts.backoffBaseMs, (v) => check.int('backoffBaseMs', v, { min: 1, max: 3_600_000 }));
    check.optional(opts.backoffMaxMs, (v) => check.int('backoffMaxMs', v, { min: 1, max: 3_600_000 }));
    check.optional(opts.fillGaps, (v) => check.bool('fillGaps', v));
    check.optional(opts.maxGapFill, (v) => check.int('maxGapFill', v, { min: 1, max: 1_000_000 }));
    check.optional(opts.waitForFirstBatch, (v) => check.bool('waitForFirstBatch', v));
    checkStore(opts.store);
    this.#engine.start(opts);
    if (opts.waitForFirstBatch) await this.#engine.prepared();
  }

  /**
   * Resolves once the running loop has handled its first batch (its listeners have
   * returned and its position is saved: the `sync` PREPARED moment), at once if it already
   * has. Rejects when the loop is not running, or when it ends before a first batch (with
   * the error that stopped it, e.g. a refused token, or a MatrixSessionError after `stop()`).
   * While the server cannot be reached the loop keeps trying, and this keeps waiting.
   *
   * @throws {MatrixSessionError} when the loop is not running or stopped first.
   * @example
   * await session.sync.start();
   * await session.sync.prepared(); // caught up: now send the greeting
   */
  prepared(): Promise<void> {
    return this.#engine.prepared();
  }

  /**
   * Stops the loop: aborts the request in flight and any wait, lets a batch whose delivery
   * has begun finish (its listeners are awaited, then its position saved), ends the
   * `events()` iterators, and resolves once the loop has ended and `sync` STOPPED was
   * emitted. A batch still being completed (a gap fill, an encryption step) is dropped
   * unsaved: the next run gets it again. When the loop is not running it only ends open
   * `events()` iterators. Do not await it inside a listener of the loop: the loop waits for
   * that listener.
   *
   * @throws Nothing: it never rejects (a failure that ended the loop was reported as `sync.error`).
   * @example
   * process.once('SIGINT', () => void session.sync.stop());
   */
  stop(): Promise<void> {
    return this.#engine.stop();
  }

  /**
   * The loop's events as an async iterator, an alternative to listeners:
   * `for await (const item of session.sync.events({ types: ['m.room.message'] })) if (item.kind === 'timeline') …`.
   * Create it before `start()` to get the first batch. The loop waits for the consumer
   * (at most one batch is buffered); `break` detaches it; `stop()` ends it.
   *
   * @param opts `types`: Matrix event types to keep; `kinds`: parts of the response to keep
   *   (SyncItemKind). Everything when omitted.
   * @throws {ValidationError} at once (not as a rejection) on bad options.
   * @example
   * const stream = session.sync.events({ kinds: ['timeline'], types: ['m.room.message'] });
   * await session.sync.start();
   * for await (const item of stream) if (item.kind === 'timeline') console.log(item.roomId, item.event.content.body);
   */
  events(opts: SyncEventsOptions = {}): SyncEventStream {
    check.object('opts', opts);
    check.optional(opts.types, (v) => check.array('types', v, (n, t) => check.string(n, t, { max: 255 })));
    check.optional(opts.kinds, (v) => check.array('kinds', v, (n, k) => check.oneOf(n, k, ITEM_KINDS)));
    return this.#engine.events(opts);
  }

  /** Where the loop is (`STOPPED` before the first start). */
  get state(): SyncState {
    return this.#engine.state;
  }

  /** True from `start()` until the loop has ended. */
  get running(): boolean {
    return this.#engine.running;
  }

  /**
   * Reports a failure of a listener of a sync event as `sync.error`. The session's
   * `onListenerError` may call this for the names in SYNC_EVENT_NAMES.
   */
  reportListenerError(event: string, error: unknown): void {
    this.#engine.reportListenerError(event, error);
  }
}
