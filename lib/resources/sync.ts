import { ValidationError } from '../core/errors';
import { path } from '../core/path';
import type { RequestCore, RequestOptions } from '../core/request';
import { check } from '../core/validate';
import type { MatrixSession } from '../session';
import { SYNC_MARGIN_MS, SyncEngine, type SyncStartOptions } from '../sync/loop';
import type { SyncEventStream, SyncEventsOptions } from '../sync/stream';
import { type Presence, type SyncHooks, type SyncItemKind, type SyncState } from '../sync/types';
import type { SyncResponse } from '../types';
import { Resource } from './resource';

export type { Presence } from '../sync/types';
export type { SyncStartOptions } from '../sync/loop';
export type { SyncEventsOptions } from '../sync/stream';

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

export interface SyncOnceOptions {
  /** A filter ID, or a filter object sent inline. */
  filter?: string | Record<string, unknown>;
  since?: string;
  fullState?: boolean;
  setPresence?: Presence;
  /** How long the server may hold the request open waiting for events, in ms (default 0). */
  timeout?: number;
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
  }

  /** GET /_matrix/client/v3/sync: one sync request. */
  async once(opts: SyncOnceOptions = {}, options?: RequestOptions): Promise<SyncResponse> {
    check.object('opts', opts);
    const { filter, since, fullState, setPresence, timeout = 0 } = opts;
    checkFilter(filter);
    check.optional(since, (v) => check.string('since', v, { max: 4096 }));
    check.optional(fullState, (v) => check.bool('fullState', v));
    check.optional(setPresence, (v) => check.oneOf('setPresence', v, PRESENCE));
    check.int('timeout', timeout, { max: 3_600_000 });
    return this.core.request(
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
   * Starts the sync loop and resolves as soon as it runs (it does not wait for the first
   * batch: watch for `sync` PREPARED). Events arrive on the session (`room.message`, …) and
   * through `events()`. Throws if the loop already runs or the session is not logged in.
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
    const store = opts.store;
    if (
      store !== undefined &&
      (typeof store !== 'object' ||
        store === null ||
        !['getSyncToken', 'setSyncToken', 'getFilter', 'setFilter'].every(
          (m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function',
        ))
    ) {
      throw new ValidationError('store', 'must have getSyncToken, setSyncToken, getFilter and setFilter methods');
    }
    this.#engine.start(opts);
  }

  /**
   * Stops the loop: aborts the request in flight and any wait, lets the batch being handled
   * finish (its listeners are awaited, then its position saved), ends the `events()`
   * iterators, and resolves once the loop has ended and `sync` STOPPED was emitted. When
   * the loop is not running it only ends open `events()` iterators. Do not await it inside a listener of the loop:
   * the loop waits for that listener.
   */
  stop(): Promise<void> {
    return this.#engine.stop();
  }

  /**
   * The loop's events as an async iterator, an alternative to listeners:
   * `for await (const item of session.sync.events({ types: ['m.room.message'] })) if (item.kind === 'timeline') …`.
   * Create it before `start()` to get the first batch. The loop waits for the consumer
   * (at most one batch is buffered); `break` detaches it; `stop()` ends it.
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
   * Installs the hooks the loop calls for each batch (the session installs the encryption
   * engine's). Internal: not part of the supported API.
   * @internal
   */
  useHooks(hooks: SyncHooks | undefined): void {
    this.#engine.hooks = hooks;
  }

  /**
   * Reports a failure of a listener of a sync event as `sync.error`. The session's
   * `onListenerError` may call this for the names in SYNC_EVENT_NAMES.
   */
  reportListenerError(event: string, error: unknown): void {
    this.#engine.reportListenerError(event, error);
  }
}
