// Internal, not exported from the package: the steps end-to-end encryption adds to the sync
// loop. Stable for lib/crypto, which calls `setSyncHooks(session.sync, hooks)`.
import type { SyncResponse } from '../types';

/**
 * Steps another part of the SDK adds to the loop's handling of each batch. The pipeline:
 *
 * 1. the shape check (guard.ts): the body is well-formed from here on;
 * 2. `receive(body, signal)`: read what the batch brings (to-device events, device lists,
 *    one-time-key counts) before anything else sees it;
 * 3. gap filling (gaps.ts): missing events are put before each room's own timeline events;
 * 4. `prepare(body, signal)`: change timelines before they are delivered: replace an event
 *    IN PLACE (same index, same `event_id`, e.g. by its decrypted form) and ADD events, to
 *    rooms of the batch or to rooms not in it (under `rooms.join`), e.g. older events that
 *    could be decrypted only now. Added events are treated as older ones delivered again:
 *    put them where they belong (before the live ones); they never move a room's "last
 *    delivered" mark, and a room the hook added gets none. What this step leaves is checked
 *    again like a server's body (room_id set, malformed items left out and reported), unless
 *    it resolves to `false`: it changed nothing;
 * 5. delivery to listeners and `sync.events()` iterators, awaited;
 * 6. the position is saved (with `saveTokenBeforeDispatch`, before step 5);
 * 7. `done(body)`: the batch is handled (e.g. send the requests the batch calls for). Not
 *    awaited; a promise it returns is watched for a rejection.
 *
 * A `receive` or `prepare` hook that throws or rejects fails the batch: it is reported as
 * `sync.error` with source `crypto`, nothing of the batch is delivered or saved, and the
 * loop fetches the same batch again after its backoff (the engine must not miss room keys
 * carried by to-device messages, which the server drops once the position moves on). A
 * failing `done` is reported (step `done` in `event`) and the loop goes on. `stop()` aborts
 * `signal`, and the loop stops waiting for a hook at once.
 */
export interface SyncHooks {
  receive?(body: SyncResponse, signal: AbortSignal): Promise<void>;
  /** Resolves to `false` when it left the body as it was (so it need not be checked again). */
  prepare?(body: SyncResponse, signal: AbortSignal): Promise<boolean | void>;
  done?(body: SyncResponse): void;
}

/** The part of the sync engine the hooks are set on. */
interface HookTarget {
  setHooks(hooks: SyncHooks | undefined): void;
}

const targets = new WeakMap<object, HookTarget>();

/** Called by the Sync group for its engine. */
export function registerHookTarget(owner: object, target: HookTarget): void {
  targets.set(owner, target);
}

/**
 * Sets (or with `undefined` removes) the hooks of a session's sync loop; `owner` is
 * `session.sync`. They apply from the next batch on.
 */
export function setSyncHooks(owner: object, hooks: SyncHooks | undefined): void {
  const target = targets.get(owner);
  if (!target) throw new TypeError('setSyncHooks needs a session.sync');
  target.setHooks(hooks);
}
