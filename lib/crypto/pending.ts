import { readIfExists, writeAtomically } from './store-file';
import type { SyncRoomEvent } from '../types';

/** At most this many undecryptable events are kept waiting for their keys (the oldest go first). */
export const MAX_PENDING = 5_000;

export interface PendingEvent {
  roomId: string;
  event: SyncRoomEvent;
}

/**
 * Encrypted events that could not be decrypted yet, by Megolm session ID, waiting for their
 * key. Kept in a file of the store folder, so a restart does not forget them: they are
 * delivered when the key arrives, whenever that is.
 */
export class PendingEvents {
  #bySession = new Map<string, PendingEvent[]>();
  #ready: PendingEvent[] = [];
  #count = 0;
  #dirty = false;

  constructor(private readonly file: string) {
    let saved: unknown;
    try {
      saved = JSON.parse(readIfExists(file).toString('utf8') || '[]');
    } catch {
      saved = []; // a damaged file loses the waiting list, not the store
    }
    // Saved events are all tried again with the first batch: a key may have arrived (and its
    // callback fired) before a crash kept the list from being written.
    if (Array.isArray(saved)) {
      for (const item of (saved as PendingEvent[]).slice(-MAX_PENDING)) {
        if (typeof item?.roomId === 'string' && typeof item.event === 'object' && item.event !== null) this.#ready.push(item);
      }
    }
  }

  get size(): number {
    return this.#count + this.#ready.length;
  }

  add(roomId: string, event: SyncRoomEvent): void {
    const sessionId = (event.content as { session_id?: unknown })?.session_id;
    if (typeof sessionId !== 'string' || typeof event.event_id !== 'string') return;
    let list = this.#bySession.get(sessionId);
    if (!list) this.#bySession.set(sessionId, (list = []));
    if (list.some((p) => p.event.event_id === event.event_id)) return;
    if (this.#count >= MAX_PENDING) this.#dropOldest();
    list.push({ roomId, event });
    this.#count++;
    this.#dirty = true;
  }

  /** A key for `sessionId` arrived: its events are handed out by the next `takeReady()`. */
  keyArrived(sessionId: string): void {
    const list = this.#bySession.get(sessionId);
    if (!list) return;
    this.#bySession.delete(sessionId);
    this.#count -= list.length;
    this.#ready.push(...list);
    this.#dirty = true;
  }

  takeReady(): PendingEvent[] {
    const ready = this.#ready;
    if (ready.length > 0) {
      this.#ready = [];
      this.#dirty = true;
    }
    return ready;
  }

  /** Writes the list if it changed. */
  save(): void {
    if (!this.#dirty) return;
    const all: PendingEvent[] = [...this.#ready];
    for (const list of this.#bySession.values()) all.push(...list);
    writeAtomically(this.file, [Buffer.from(JSON.stringify(all))]);
    this.#dirty = false;
  }

  #dropOldest(): void {
    const [sessionId, list] = this.#bySession.entries().next().value as [string, PendingEvent[]];
    list.shift();
    this.#count--;
    if (list.length === 0) this.#bySession.delete(sessionId);
  }
}
