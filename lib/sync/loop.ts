import {
  AbortError,
  ConnectionError,
  InvalidResponseError,
  MatrixError,
  MatrixSessionError,
  NotLoggedInError,
  TimeoutError,
} from '../core/errors';
import { SETTLED } from '../core/emitter';
import { clampDelay, sleep, untilAborted } from '../core/retry';
import { path } from '../core/path';
import type { RequestCore } from '../core/request';
import type { MatrixSession } from '../session';
import type { SyncResponse } from '../types';
import { dispatchSync, type DispatchEmitter } from './dispatch';
import { fillGaps, type GapContext, type RoomGap } from './gaps';
import { guardSync, isObject, type MalformedItems } from './guard';
import type { SyncHooks } from './hooks';
import { confirmLastEvents, lastEventsOf, positionsOf, type Positions } from './position';
import { canonicalJson, MemorySyncStore, type SyncStore } from './store';
import { SyncEventStream, type SyncEventsOptions } from './stream';
import type { Presence, SyncErrorInfo, SyncErrorSource, SyncState } from './types';

/** Options of `session.sync.start()`. */
export interface SyncStartOptions {
  /**
   * A filter ID, or a filter object: an object is uploaded once (POST /user/{userId}/filter)
   * and its ID kept in the store, so later runs with the same filter reuse it.
   */
  filter?: string | Record<string, unknown>;
  /** How long the server may hold each request open, in ms (default 30 000). */
  timeout?: number;
  /** The presence to set with each request. */
  setPresence?: Presence;
  /** Ask for the full state of every room on the first request of this run. */
  fullState?: boolean;
  /** Where the position and filter ID are kept. Default: a memory store owned by the session. */
  store?: SyncStore;
  /**
   * Save the position when a batch arrives, before the listeners run (at most once: a crash
   * while handling a batch loses it). By default it is saved after every listener of the
   * batch has returned, or settled if it returned a promise (at least once: a crash replays it).
   */
  saveTokenBeforeDispatch?: boolean;
  /** Join every room the user is invited to (errors are reported as `sync.error`, source `autoJoin`). */
  autoJoin?: boolean;
  /** First delay after a failed request, in ms (default 1 000); it doubles per failure, with jitter. */
  backoffBaseMs?: number;
  /** Longest delay between attempts, in ms (default 60 000). */
  backoffMaxMs?: number;
  /**
   * Fill gaps (default true): when a room's timeline comes back `limited` (more events
   * arrived than the server's timeline limit), page back through its history to the last
   * event delivered and deliver the missing events first, in order. With `false`, nothing
   * is fetched: each gap is reported as `room.gap` (reason `disabled`), and `room.timeline`
   * and `sync.events()` items show `limited` and `prevBatch`.
   */
  fillGaps?: boolean;
  /**
   * At most this many missing events are fetched per room and batch (default 1 000); past
   * it, what was fetched is delivered and `room.gap` (reason `limit`) says where the rest is.
   */
  maxGapFill?: number;
  /** `start()` resolves only once the first batch has been handled (see `sync.prepared()`). */
  waitForFirstBatch?: boolean;
}

/** Added to the long-poll time so a slow answer is not mistaken for a dead connection. */
export const SYNC_MARGIN_MS = 30_000;
/** RECONNECTING becomes ERROR at this many failures in a row. */
export const ERROR_THRESHOLD = 3;
/** Missing events fetched per room and batch, by default. */
export const DEFAULT_MAX_GAP_FILL = 1_000;
/** Detailed `malformed` reports per batch; the rest are summed up in one more. */
const MAX_MALFORMED_REPORTS = 10;
const PROBE_TIMEOUT_MS = 15_000;
const SYNC_PATH = '/_matrix/client/v3/sync';

interface Run {
  controller: AbortController;
  stopping: boolean;
  done: Promise<void>;
  /** Settles when the run has handled its first batch, or ended without one. */
  first: Promise<void>;
  resolveFirst(): void;
  rejectFirst(error: unknown): void;
}

/** The mutable part of one run that the helpers share. */
interface RunState {
  failures: number;
  /** 429s in a row. */
  limited: number;
  source: SyncErrorSource;
}

/** What one run needs to handle a batch (made once per run: `incremental` changes per batch). */
interface BatchContext {
  signal: AbortSignal;
  positions: Positions;
  opts: SyncStartOptions;
  gaps: GapContext;
}

/** Full jitter in [ceiling/2, ceiling], the ceiling doubling per failure from base up to max. */
export function syncBackoff(failures: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * The sync loop: one `while` loop per run, awaiting one request at a time. Each batch is
 * dispatched, its listeners awaited, then its `next_batch` saved; failures back off and
 * probe `/versions`; every end of a run emits `sync` STOPPED.
 */
export class SyncEngine {
  #state: SyncState = 'STOPPED';
  #run?: Run;
  #streams = new Set<SyncEventStream>();
  #hooks?: SyncHooks;
  readonly #defaultStore = new MemorySyncStore();
  /** The last events per room for stores that do not keep them (see positionsOf). */
  readonly #remembered = new WeakMap<SyncStore, Map<string, string>>();

  constructor(
    private readonly session: MatrixSession,
    private readonly core: RequestCore,
  ) {}

  get state(): SyncState {
    return this.#state;
  }

  get running(): boolean {
    return this.#run !== undefined;
  }

  start(opts: SyncStartOptions): void {
    if (this.#run) throw new MatrixSessionError('The sync loop is already running (await stop() before starting it again)');
    if (!this.core.credentials.accessToken) throw new NotLoggedInError('sync.start()');
    const controller = new AbortController();
    let resolveFirst!: () => void;
    let rejectFirst!: (error: unknown) => void;
    const first = new Promise<void>((resolve, reject) => {
      resolveFirst = resolve;
      rejectFirst = reject;
    });
    first.catch(() => undefined); // nobody has to ask for it
    const run: Run = { controller, stopping: false, done: Promise.resolve(), first, resolveFirst, rejectFirst };
    this.#run = run;
    run.done = this.#loop(run, opts).finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
  }

  /** Resolves once the running loop has handled its first batch; rejects if it ends first or is not running. */
  prepared(): Promise<void> {
    return this.#run ? this.#run.first : Promise.reject(new MatrixSessionError('The sync loop is not running'));
  }

  /** The steps end-to-end encryption adds to each batch (lib/sync/hooks.ts); from the next batch on. */
  setHooks(hooks: SyncHooks | undefined): void {
    if (hooks !== undefined && !isObject(hooks)) throw new TypeError('hooks must be an object');
    this.#hooks = hooks;
  }

  async stop(): Promise<void> {
    for (const stream of [...this.#streams]) stream.end(false);
    const run = this.#run;
    if (!run) return;
    run.stopping = true;
    run.controller.abort();
    await run.done;
  }

  events(options: SyncEventsOptions): SyncEventStream {
    const stream = new SyncEventStream(options, (s) => this.#streams.delete(s));
    this.#streams.add(stream);
    return stream;
  }

  /** Routes a failure of a sync-event listener to `sync.error`. */
  reportListenerError(event: string, error: unknown): void {
    this.#report(error, { source: 'listener', event, retryInMs: undefined, failures: 0 });
  }

  async #loop(run: Run, opts: SyncStartOptions): Promise<void> {
    const rs: RunState = { failures: 0, limited: 0, source: 'store' };
    const store = opts.store ?? this.#defaultStore;
    let remembered = this.#remembered.get(store);
    if (!remembered) this.#remembered.set(store, (remembered = new Map()));
    const positions = positionsOf(store, remembered);
    const batch = this.#batchContext(opts, positions, rs, run.controller.signal);
    const timeout = opts.timeout ?? 30_000;
    const baseMs = opts.backoffBaseMs ?? 1_000;
    const maxMs = opts.backoffMaxMs ?? 60_000;
    const signal = run.controller.signal;
    const filterObject = typeof opts.filter === 'object' ? opts.filter : undefined;
    let filterId = typeof opts.filter === 'string' ? opts.filter : undefined;
    let filterFromStore = false;
    let prepared = false;
    let fullState = opts.fullState;
    let exitError: unknown;
    let since: string | undefined;

    try {
      since = await store.getSyncToken();
    } catch (error) {
      exitError = error;
    }

    while (exitError === undefined && !run.stopping) {
      try {
        if (filterObject && filterId === undefined) {
          rs.source = 'filter';
          ({ id: filterId, fromStore: filterFromStore } = await this.#resolveFilter(filterObject, store, signal));
        }

        rs.source = 'sync';
        let body: SyncResponse;
        try {
          body = await this.core.request<SyncResponse>(
            {
              method: 'GET',
              path: SYNC_PATH,
              query: { filter: filterId, since, full_state: fullState || undefined, set_presence: opts.setPresence, timeout },
              timeoutMs: timeout + SYNC_MARGIN_MS,
              required: ['next_batch'],
            },
            // The loop does its own waiting: no retries inside the request (401 refresh still happens there).
            { signal, maxRetries: 0 },
          );
        } catch (error) {
          // A filter we created earlier that the server has forgotten: create it again, once.
          if (filterFromStore && isUnknownFilter(error)) {
            filterFromStore = false;
            filterId = undefined;
            rs.source = 'store';
            await store.setFilter(undefined);
            continue;
          }
          throw error;
        }
        filterFromStore = false;
        fullState = undefined;

        const malformed = guardSync(body); // a malformed top level throws: a transient failure
        if (malformed) this.reportMalformed(malformed);
        batch.gaps.incremental = since !== undefined;
        await this.#handle(body, rs, batch);
        since = body.next_batch;
        rs.failures = 0;
        rs.limited = 0;
        this.#setState(prepared ? 'SYNCING' : 'PREPARED');
        if (!prepared) run.resolveFirst();
        prepared = true;
      } catch (error) {
        // Stopping aborts the request in flight; a store that fails meanwhile is still reported.
        if (error instanceof AbortError || (run.stopping && rs.source !== 'store')) break;
        if (isFatal(error, rs.source)) {
          exitError = error;
          break;
        }
        if (error instanceof MatrixError && error.httpStatus === 429) {
          const delayMs = this.#delay(error, ++rs.limited, baseMs, maxMs);
          this.session.emit('rateLimited', { method: 'GET', path: SYNC_PATH, delayMs, attempt: rs.limited });
          this.#report(error, { source: rs.source, retryInMs: delayMs, failures: rs.failures });
          await sleep(delayMs, signal);
          continue;
        }
        await this.#recover(error, rs, baseMs, maxMs, signal);
      }
    }

    if (exitError !== undefined) {
      this.#report(exitError, { source: rs.source, retryInMs: null, failures: rs.failures });
    }
    for (const stream of [...this.#streams]) stream.end(false);
    if (!prepared) run.rejectFirst(exitError ?? new MatrixSessionError('The sync loop stopped before its first batch'));
    this.#setState('STOPPED', exitError);
  }

  /**
   * One well-formed batch, step by step (hooks.ts describes them): hooks.receive → gap
   * filling → hooks.prepare → delivery → saving the position → hooks.done. Throws an
   * AbortError when stopped midway (nothing saved: the next run gets the batch again), what
   * the store throws, and what a receive or prepare hook throws (the batch is then fetched
   * again); a failing gap fill or done hook is reported and the batch goes on.
   */
  async #handle(body: SyncResponse, rs: RunState, ctx: BatchContext): Promise<void> {
    const { signal, positions, opts } = ctx;
    const hooks = this.#hooks;
    if (hooks?.receive) await this.#hook(() => hooks.receive!(body, signal), rs, signal);

    ctx.gaps.userId = this.core.credentials.userId;
    ctx.gaps.reportUnfilled = this.session.listenerCount('room.gap') > 0;
    const gaps = await fillGaps(body, ctx.gaps);
    if (gaps) {
      for (const gap of gaps.values()) {
        if (gap.reason === 'error') this.#report(gap.error, { source: 'gap', roomId: gap.roomId, retryInMs: undefined, failures: 0 });
      }
    }

    const last = lastEventsOf(body);
    // What the hook changed is checked like the server's body; a hook that changed nothing
    // (returned false) costs no second walk over the batch.
    if (hooks?.prepare && (await this.#hook(() => hooks.prepare!(body, signal), rs, signal)) !== false) {
      const malformed = guardSync(body);
      if (malformed) this.reportMalformed(malformed);
      confirmLastEvents(body, last);
    }

    if (opts.saveTokenBeforeDispatch) {
      rs.source = 'store';
      await positions.save(body.next_batch, last);
    }
    rs.source = 'sync';
    const complete = await this.#dispatch(body, gaps, ctx.gaps.incremental, opts.autoJoin === true);
    rs.source = 'store';
    if (!opts.saveTokenBeforeDispatch && complete) await positions.save(body.next_batch, last);
    rs.source = 'sync';
    if (hooks?.done) this.#doneHook(hooks, body);
  }

  #batchContext(opts: SyncStartOptions, positions: Positions, rs: RunState, signal: AbortSignal): BatchContext {
    const filter = historyFilter(typeof opts.filter === 'object' ? opts.filter : undefined);
    const gaps: GapContext = {
      incremental: false,
      fillGaps: opts.fillGaps !== false,
      reportUnfilled: true,
      maxGapFill: opts.maxGapFill ?? DEFAULT_MAX_GAP_FILL,
      userId: undefined,
      signal,
      lastEventId: async (roomId) => {
        try {
          return await positions.lastEventId(roomId);
        } catch (error) {
          rs.source = 'store'; // a store that cannot be read stops the loop, as one that cannot be written
          throw error;
        }
      },
      messages: (roomId, from, limit) => this.session.rooms.messages(roomId, { from, dir: 'b', limit, filter }, { signal }),
    };
    return { signal, positions, opts, gaps };
  }

  /**
   * Runs an awaited hook step; a stop ends the wait at once. A failure fails the batch (source
   * crypto): nothing of it is delivered or saved, and the same batch is fetched again after
   * the backoff. Going on instead would lose for good what the engine did not take, such as
   * room keys in to-device messages, which the server drops once the position moves on.
   */
  async #hook<T>(run: () => Promise<T>, rs: RunState, signal: AbortSignal): Promise<T> {
    try {
      return await untilAborted(run(), signal);
    } catch (error) {
      if (signal.aborted) throw new AbortError();
      rs.source = 'crypto';
      throw error;
    }
  }

  #doneHook(hooks: SyncHooks, body: SyncResponse): void {
    const report = (error: unknown) => this.#report(error, { source: 'crypto', event: 'done', retryInMs: undefined, failures: 0 });
    try {
      const result: unknown = hooks.done!(body);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }

  /** One `sync.error` (source malformed) per room and section, at most MAX_MALFORMED_REPORTS a batch. */
  reportMalformed(items: MalformedItems[]): void {
    const shown = items.length > MAX_MALFORMED_REPORTS ? MAX_MALFORMED_REPORTS - 1 : items.length;
    for (let i = 0; i < shown; i++) {
      const { section, roomId, count } = items[i];
      const where = roomId === undefined ? section : `${section} of ${roomId}`;
      const error = new InvalidResponseError({ method: 'GET', path: SYNC_PATH }, 200, `${count} malformed item(s) in ${where} left out`);
      this.#report(error, { source: 'malformed', roomId, section, retryInMs: undefined, failures: 0 });
    }
    if (shown < items.length) {
      let count = 0;
      for (let i = shown; i < items.length; i++) count += items[i].count;
      const error = new InvalidResponseError(
        { method: 'GET', path: SYNC_PATH },
        200,
        `${count} more malformed item(s) in ${items.length - shown} more places left out`,
      );
      this.#report(error, { source: 'malformed', section: '*', retryInMs: undefined, failures: 0 });
    }
  }

  /**
   * The wait before attempt `n` after `error`: the server's delay when it gave one (a 429,
   * or a 503 with Retry-After), at most the session's maxRateLimitWaitMs; else the backoff.
   * From the second failure in a row it is at least the backoff of the one before, so a
   * server that keeps asking for no wait cannot make the loop flood it.
   */
  #delay(error: unknown, n: number, baseMs: number, maxMs: number): number {
    const asked = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    let delayMs: number;
    if (typeof asked === 'number' && asked >= 0 && asked <= Number.MAX_VALUE) {
      delayMs = Math.min(asked, this.core.retry.maxRateLimitWaitMs);
      if (n > 1) delayMs = Math.max(delayMs, syncBackoff(n - 1, baseMs, maxMs));
    } else {
      delayMs = syncBackoff(n, baseMs, maxMs);
    }
    return clampDelay(delayMs);
  }

  /** After a failed request: RECONNECTING (ERROR from the third failure), wait, probe /versions until it answers. */
  async #recover(error: unknown, rs: RunState, baseMs: number, maxMs: number, signal: AbortSignal): Promise<void> {
    let failure = error;
    for (;;) {
      rs.failures++;
      this.#setState(rs.failures >= ERROR_THRESHOLD ? 'ERROR' : 'RECONNECTING', failure);
      const delayMs = this.#delay(failure, rs.failures, baseMs, maxMs);
      this.#report(failure, { source: rs.source, retryInMs: delayMs, failures: rs.failures });
      await sleep(delayMs, signal);
      if (signal.aborted) return;
      rs.source = 'probe';
      try {
        await this.core.request(
          { method: 'GET', path: '/_matrix/client/versions', auth: 'none', timeoutMs: PROBE_TIMEOUT_MS },
          { signal, maxRetries: 0 },
        );
        return;
      } catch (probeError) {
        if (signal.aborted) return;
        // Any answer but a 5xx means the server is there (a proxy may hide /versions).
        if (probeError instanceof MatrixError && probeError.httpStatus < 500) return;
        failure = probeError;
      }
    }
  }

  async #resolveFilter(
    filter: Record<string, unknown>,
    store: SyncStore,
    signal: AbortSignal,
  ): Promise<{ id: string; fromStore: boolean }> {
    const userId = this.core.credentials.userId;
    if (!userId) throw new NotLoggedInError('Creating a sync filter');
    const definition = canonicalJson(filter);
    const stored = await store.getFilter();
    if (stored && stored.definition === definition && stored.userId === userId) return { id: stored.id, fromStore: true };
    const res = await this.core.request<{ filter_id: string }>(
      {
        method: 'POST',
        path: path`/_matrix/client/v3/user/${userId}/filter`,
        body: filter,
        idempotency: 'safe', // a second filter is harmless
        required: ['filter_id'],
      },
      { signal, maxRetries: 0 },
    );
    await store.setFilter({ id: res.filter_id, definition, userId });
    return { id: res.filter_id, fromStore: false };
  }

  /** Emits the batch, awaits its listeners and iterators; false if an iterator ended before taking all of it. */
  async #dispatch(body: SyncResponse, gaps: Map<string, RoomGap> | undefined, incremental: boolean, autoJoin: boolean): Promise<boolean> {
    const pending: Promise<unknown>[] = [];
    dispatchSync(this.session as unknown as DispatchEmitter, body, {
      userId: this.core.credentials.userId,
      incremental,
      pending,
      onInvite: autoJoin ? (roomId) => pending.push(this.#autoJoin(roomId)) : undefined,
      gaps,
    });
    let complete = true;
    if (this.#streams.size > 0) {
      for (const stream of [...this.#streams]) {
        const taken = stream.push(body);
        if (taken) pending.push(taken.then((ok) => (complete &&= ok)));
      }
    }
    // An emit whose listeners returned nothing to wait for hands back the shared, settled
    // SETTLED: those are dropped, and the batch is awaited only if something is left.
    let waiting = 0;
    for (let i = 0; i < pending.length; i++) if (pending[i] !== SETTLED) pending[waiting++] = pending[i];
    pending.length = waiting;
    if (waiting > 0) await Promise.all(pending);
    return complete;
  }

  async #autoJoin(roomId: string): Promise<void> {
    try {
      await this.session.rooms.join(roomId);
    } catch (error) {
      this.#report(error, { source: 'autoJoin', roomId, retryInMs: undefined, failures: 0 });
    }
  }

  /** Emits `sync` on a change; STOPPED is always emitted (a run that never got a batch goes STOPPED → STOPPED). */
  #setState(state: SyncState, error?: unknown): void {
    const prev = this.#state;
    if (prev === state && state !== 'STOPPED') return;
    this.#state = state;
    this.session.emit('sync', state, prev, error === undefined ? {} : { error });
  }

  #report(error: unknown, info: SyncErrorInfo): void {
    this.session.emit('sync.error', error, info);
  }
}

/** Errors that waiting will not cure: the loop stops on them. */
function isFatal(error: unknown, source: SyncErrorSource): boolean {
  if (source === 'store') return true;
  // The engine failed to take a batch: the same batch is asked for again after a backoff.
  if (source === 'crypto') return false;
  if (error instanceof MatrixError) {
    const s = error.httpStatus;
    return s >= 400 && s < 500 && s !== 408 && s !== 429;
  }
  // Connection failures, timeouts and unparseable bodies (a proxy's error page) are transient.
  return !(error instanceof ConnectionError || error instanceof TimeoutError || error instanceof InvalidResponseError);
}

function isUnknownFilter(error: unknown): boolean {
  return (
    error instanceof MatrixError &&
    (error.httpStatus === 404 || (error.httpStatus === 400 && error.errcode === 'M_INVALID_PARAM'))
  );
}

/**
 * The sync filter's timeline part (a RoomEventFilter), for /messages: filling a gap then
 * delivers the same kinds of events as the timeline. Its `limit` is the timeline's, not a page's.
 */
function historyFilter(filter: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const timeline = isObject(filter?.room) ? filter.room.timeline : undefined;
  if (!isObject(timeline)) return undefined;
  const { limit: _limit, ...rest } = timeline;
  return Object.keys(rest).length > 0 ? rest : undefined;
}
