import { check } from '../core/validate';
import type { RequestOptions } from '../core/request';
import type { SyncResponse } from '../types';
import { Resource } from './resource';

export type Presence = 'offline' | 'online' | 'unavailable';
const PRESENCE: readonly Presence[] = ['offline', 'online', 'unavailable'];

export interface SyncOnceOptions {
  /** A filter ID, or a filter object sent inline. */
  filter?: string | Record<string, unknown>;
  since?: string;
  fullState?: boolean;
  setPresence?: Presence;
  /** How long the server may hold the request open waiting for events, in ms (default 0). */
  timeout?: number;
}

/** Added to the long-poll time so a slow answer is not mistaken for a dead connection. */
const SYNC_MARGIN_MS = 30_000;

export class Sync extends Resource {
  /** GET /_matrix/client/v3/sync: one sync request. */
  once(opts: SyncOnceOptions = {}, options?: RequestOptions): Promise<SyncResponse> {
    check.object('opts', opts);
    const { filter, since, fullState, setPresence, timeout = 0 } = opts;
    if (typeof filter !== 'string') check.optional(filter, (f) => check.object('filter', f));
    else check.string('filter', filter, { max: 4096 });
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

  /** Stops the sync loop if one runs (the loop itself is added by the sync-loop module). */
  async stop(): Promise<void> {}
}
