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
import { path } from '../core/path';
import type { RequestCore } from '../core/request';
import type { MatrixSession } from '../session';
import type { SyncResponse } from '../types';
import { dispatchSync, type DispatchEmitter } from './dispatch';
import { canonicalJson, MemorySyncStore, type SyncStore } from './store';
import { SyncEventStream, type SyncEventsOptions } from './stream';
import type { Presence, SyncErrorInfo, SyncErrorSource, SyncHooks, SyncState } from './types';

export interface SyncStartOptions {
  /**
   * A filter ID, or a filter object: an object is uploaded once (POST /user/{userId}/filter)
   * and its ID kept in the store, so later runs with the same filter reuse it.
   */
  filter?: string | Record<string, unknown>;
  /** How long the server may hold each request open, in ms (default 30 000). */
  timeout?: number;
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
}

/** Added to the long-poll time so a slow answer is not mistaken for a dead connection. */
export const SYNC_MARGIN_MS = 30_000;
/** RECONNECTING becomes ERROR at this many failures in a row. */
export const ERROR_THRESHOLD = 3;
const PROBE_TIMEOUT_MS = 15_000;
const SYNC_PATH = '/_matrix/client/v3/sync';

interface Run {
  controller: AbortController;
  stopping: boolean;
  done: Promise<void>;
}

/** The mutable part of one run that the helpers share. */
interface RunState {
  failures: number;
  source: SyncErrorSource;
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
  readonly #defaultStore = new MemorySyncStore();
  /** The encryption engine's hooks into each batch (set by the session). */
  hooks?: SyncHooks;

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
    const run: Run = { controller, stopping: false, done: Promise.resolve() };
    this.#run = run;
    run.done = this.#loop(run, opts).finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
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
    const rs: RunState = { failures: 0, source: 'store' };
    const store = opts.store ?? this.#defaultStore;
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

        // Encryption: the batch's to-device events and key counts go to the engine, then its
        // encrypted timeline events are decrypted in place, before anyone sees the batch.
        const hooks = this.hooks;
        if (hooks) {
          rs.source = 'crypto';
          await hooks.receive?.(body, signal);
          await hooks.prepare?.(body, signal);
        }

        if (opts.saveTokenBeforeDispatch) {
          rs.source = 'store';
          await store.setSyncToken(body.next_batch);
        }
        rs.source = 'sync';
        const complete = await this.#dispatch(body, since !== undefined, opts.autoJoin === true);
        rs.source = 'store';
        if (!opts.saveTokenBeforeDispatch && complete) await store.setSyncToken(body.next_batch);
        since = body.next_batch;
        hooks?.done?.(body);
        rs.failures = 0;
        this.#setState(prepared ? 'SYNCING' : 'PREPARED');
        prepared = true;
      } catch (error) {
        // Stopping aborts the request in flight; a store that fails meanwhile is still reported.
        if (error instanceof AbortError || (run.stopping && rs.source !== 'store')) break;
        if (isFatal(error, rs.source)) {
          exitError = error;
          break;
        }
        if (error instanceof MatrixError && error.httpStatus === 429) {
          const delayMs = error.retryAfterMs ?? syncBackoff(rs.failures + 1, baseMs, maxMs);
          this.session.emit('rateLimited', { method: 'GET', path: SYNC_PATH, delayMs, attempt: 1 });
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
    this.#setState('STOPPED', exitError);
  }

  /** After a failed request: RECONNECTING (ERROR from the third failure), wait, probe /versions until it answers. */
  async #recover(error: unknown, rs: RunState, baseMs: number, maxMs: number, signal: AbortSignal): Promise<void> {
    let failure = error;
    for (;;) {
      rs.failures++;
      this.#setState(rs.failures >= ERROR_THRESHOLD ? 'ERROR' : 'RECONNECTING', failure);
      const delayMs = syncBackoff(rs.failures, baseMs, maxMs);
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
  async #dispatch(body: SyncResponse, incremental: boolean, autoJoin: boolean): Promise<boolean> {
    const pending: Promise<unknown>[] = [];
    dispatchSync(this.session as unknown as DispatchEmitter, body, {
      userId: this.core.credentials.userId,
      incremental,
      pending,
      onInvite: autoJoin ? (roomId) => pending.push(this.#autoJoin(roomId)) : undefined,
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

/** Resolves after `ms`, or at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
