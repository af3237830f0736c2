import type { SyncResponse } from '../types';
import { forEachSyncEvent } from './dispatch';
import type { SyncItem, SyncItemKind } from './types';

/** Options of `session.sync.events()`. */
export interface SyncEventsOptions {
  /** Matrix event types to keep (exact match, e.g. `['m.room.message']`); all when omitted. */
  types?: readonly string[];
  /** Parts of the sync response to keep; all when omitted. */
  kinds?: readonly SyncItemKind[];
}

/**
 * `session.sync.events()`: the sync loop as an async iterator. It is attached to the loop
 * when created (not on the first `next()`), so create it before `start()` to see the first
 * batch. Backpressure: the loop hands over one batch and waits until the consumer has
 * taken all of it (asked for the item after the last one) before it saves its position and
 * fetches the next batch; at most one batch is buffered. `break` detaches the iterator (the
 * rest of its batch is dropped for it); `stop()` ends it, and a batch it had not fully taken
 * is then not saved as done, so it is delivered again by the next run.
 */
export class SyncEventStream implements AsyncIterableIterator<SyncItem> {
  #types?: ReadonlySet<string>;
  #kinds?: ReadonlySet<string>;
  #buffer: SyncItem[] = [];
  #index = 0;
  #ended = false;
  /** The loop waits on this while a batch is being consumed: true when all of it was taken. */
  #batchDone?: (complete: boolean) => void;
  /** A consumer waiting in next() for the next batch. */
  #waiting?: (result: IteratorResult<SyncItem>) => void;

  constructor(
    options: SyncEventsOptions,
    private readonly detach: (stream: SyncEventStream) => void,
  ) {
    if (options.types) this.#types = new Set(options.types);
    if (options.kinds) this.#kinds = new Set(options.kinds);
  }

  /** The stream is its own iterator (`for await (const item of stream)`). */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Called by the loop with each batch; resolves once the consumer has taken it (true) or the stream ended first (false). */
  push(body: SyncResponse): Promise<boolean> | undefined {
    if (this.#ended) return undefined;
    const items: SyncItem[] = [];
    const types = this.#types;
    const kinds = this.#kinds;
    forEachSyncEvent(body, (kind, event, { roomId, membership, timeline }) => {
      if (kinds && !kinds.has(kind)) return;
      if (types && !types.has(event.type)) return;
      const item =
        roomId === undefined
          ? { kind, event }
          : membership === undefined
            ? { kind, roomId, event }
            : timeline === undefined
              ? { kind, roomId, membership, event }
              : { kind, roomId, membership, event, limited: timeline.limited === true, prevBatch: timeline.prev_batch };
      items.push(item as SyncItem);
    });
    if (items.length === 0) return undefined;
    this.#buffer = items;
    this.#index = 0;
    const done = new Promise<boolean>((resolve) => (this.#batchDone = resolve));
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: this.#buffer[this.#index++], done: false });
    }
    return done;
  }

  /** The next item; asking past the last item of a batch tells the loop the batch was taken. */
  next(): Promise<IteratorResult<SyncItem>> {
    if (this.#index < this.#buffer.length) {
      return Promise.resolve({ value: this.#buffer[this.#index++], done: false });
    }
    // Asking past the last item means the consumer is done with the batch.
    this.#settleBatch(true);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** `break` out of `for await`: detach from the loop. */
  return(): Promise<IteratorResult<SyncItem>> {
    this.end(true);
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the iteration. `complete`: whether the batch being consumed counts as taken. */
  end(complete = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.detach(this);
    this.#settleBatch(complete);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  #settleBatch(complete: boolean): void {
    const done = this.#batchDone;
    if (!done) return;
    this.#batchDone = undefined;
    this.#buffer = [];
    this.#index = 0;
    done(complete);
  }
}
