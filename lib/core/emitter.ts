/* eslint-disable @typescript-eslint/no-explicit-any */
import { EventEmitter } from 'eventemitter3';

type Listener = (...args: any[]) => unknown;

/** What `emitAndWait` returns when no listener returned a promise: settled already, and shared. */
export const SETTLED: Promise<void> = Promise.resolve();
const nothing = (): void => undefined;

/**
 * An eventemitter3 emitter whose listeners cannot break the emitter: a listener that
 * throws (or returns a rejected promise) is reported through `onListenerError` and the
 * other listeners still run. `emitAndWait` also awaits listeners that return promises,
 * which the sync loop needs before it may save its position.
 */
export class SafeEmitter<E extends EventEmitter.ValidEventTypes> extends EventEmitter<E> {
  #wrappers = new WeakMap<Listener, Map<PropertyKey, Listener>>();
  /** True while `emitAndWait` emits: listeners' promises are then collected into `#collected`. */
  #collecting = false;
  #collected: Promise<unknown>[] | undefined;

  /** Adds a listener; its failures are reported through `onListenerError`, never thrown into the emitter. */
  override on(event: any, fn: any, context?: any): this {
    return super.on(event, this.#wrap(event, fn) as any, context);
  }
  /** The same as `on`. */
  override addListener(event: any, fn: any, context?: any): this {
    return this.on(event, fn, context);
  }
  /** Like `on`, for one call only. */
  override once(event: any, fn: any, context?: any): this {
    return super.once(event, this.#wrap(event, fn) as any, context);
  }
  /** Removes the listener `fn` (as passed to `on`), or every listener of `event` without `fn`. */
  override off(event: any, fn?: any, context?: any, once?: boolean): this {
    const wrapped = fn ? (this.#wrappers.get(fn)?.get(event) ?? fn) : undefined;
    return super.off(event, wrapped, context, once);
  }
  /** The same as `off`. */
  override removeListener(event: any, fn?: any, context?: any, once?: boolean): this {
    return this.off(event, fn, context, once);
  }

  /**
   * Emits, then waits for every promise the listeners returned (failures are reported, not
   * thrown). When no listener returned one (the usual case, and the sync loop's for every
   * event) no promise is made: the shared, settled `SETTLED` is returned.
   */
  emitAndWait(event: EventEmitter.EventNames<E>, ...args: any[]): Promise<void> {
    const outerCollecting = this.#collecting;
    const outerCollected = this.#collected;
    this.#collecting = true;
    this.#collected = undefined;
    let collected: Promise<unknown>[] | undefined;
    try {
      (this.emit as Listener)(event, ...args);
    } finally {
      collected = this.#collected;
      this.#collecting = outerCollecting;
      this.#collected = outerCollected;
    }
    return collected === undefined ? SETTLED : Promise.all(collected).then(nothing);
  }

  /** Where listener failures go. The session routes them to an event of its own. */
  protected onListenerError(event: PropertyKey, error: unknown): void {
    process.emitWarning(`A listener of "${String(event)}" threw: ${String(error)}`);
  }

  #wrap(event: PropertyKey, fn: Listener): Listener {
    let byEvent = this.#wrappers.get(fn);
    const existing = byEvent?.get(event);
    if (existing) return existing;
    const report = (error: unknown) => this.#report(event, error);
    const emitter = this;
    const wrapper = function (this: unknown) {
      try {
        // `arguments` rather than a rest parameter: no array per call.
        // eslint-disable-next-line prefer-rest-params
        const result = fn.apply(this, arguments as unknown as unknown[]);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          const settled = (result as Promise<unknown>).then(undefined, report);
          if (emitter.#collecting) (emitter.#collected ??= []).push(settled);
        }
      } catch (error) {
        report(error);
      }
    };
    if (!byEvent) this.#wrappers.set(fn, (byEvent = new Map()));
    byEvent.set(event, wrapper);
    return wrapper;
  }

  #report(event: PropertyKey, error: unknown): void {
    try {
      this.onListenerError(event, error);
    } catch {
      // A failing error handler must not take the emitter down with it.
    }
  }
}
