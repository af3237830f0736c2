import { SafeEmitter } from '../../lib/core/emitter';

type Events = { ping: [n: number]; other: [] };

class Recording extends SafeEmitter<Events> {
  failures: Array<[PropertyKey, unknown]> = [];
  protected override onListenerError(event: PropertyKey, error: unknown): void {
    this.failures.push([event, error]);
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SafeEmitter', () => {
  it('a listener that throws is reported; the other listeners still run and emit does not throw', () => {
    const e = new Recording();
    const seen: number[] = [];
    e.on('ping', (n: number) => seen.push(n));
    e.on('ping', () => {
      throw new Error('bad listener');
    });
    e.on('ping', (n: number) => seen.push(n * 10));
    expect(() => e.emit('ping', 1)).not.toThrow();
    expect(seen).toEqual([1, 10]);
    expect(e.failures).toHaveLength(1);
    expect(e.failures[0][0]).toBe('ping');
    expect((e.failures[0][1] as Error).message).toBe('bad listener');
  });

  it('a listener whose promise rejects is reported, not an unhandled rejection', async () => {
    const e = new Recording();
    e.on('ping', async () => {
      throw new Error('async bad');
    });
    e.emit('ping', 1);
    await tick();
    expect(e.failures.map(([, err]) => (err as Error).message)).toEqual(['async bad']);
  });

  it('emitAndWait waits for the promises listeners return', async () => {
    const e = new Recording();
    const order: string[] = [];
    e.on('ping', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('slow listener done');
    });
    e.on('ping', () => order.push('sync listener'));
    await e.emitAndWait('ping', 1);
    order.push('after emitAndWait');
    expect(order).toEqual(['sync listener', 'slow listener done', 'after emitAndWait']);
  });

  it('emitAndWait reports a rejection instead of throwing it', async () => {
    const e = new Recording();
    e.on('ping', () => Promise.reject(new Error('nope')));
    await expect(e.emitAndWait('ping', 1)).resolves.toBeUndefined();
    expect(e.failures).toHaveLength(1);
  });

  it('emitAndWait only waits for its own emit, not for a plain emit made meanwhile', async () => {
    const e = new Recording();
    let release!: () => void;
    e.on('other', () => new Promise<void>((r) => (release = r)));
    e.emit('other'); // not awaited by anything
    e.on('ping', () => undefined);
    await expect(e.emitAndWait('ping', 1)).resolves.toBeUndefined();
    release();
  });

  it('emitAndWait without a listener that returns a promise hands back one shared, settled promise', async () => {
    const e = new Recording();
    const seen: number[] = [];
    e.on('ping', (n: number) => void seen.push(n));
    const a = e.emitAndWait('ping', 1);
    const b = e.emitAndWait('ping', 2);
    const none = e.emitAndWait('other');
    expect(a).toBe(b);
    expect(none).toBe(a);
    await expect(a).resolves.toBeUndefined();
    expect(seen).toEqual([1, 2]);
  });

  it('emitAndWait waits for a plain emit made by one of its listeners, and a nested emitAndWait for its own only', async () => {
    const e = new Recording();
    const order: string[] = [];
    const later = (label: string, ms: number) => new Promise<void>((r) => setTimeout(() => (order.push(label), r()), ms));
    e.on('other', () => later('other done', 30));
    e.on('ping', (n: number) => {
      if (n === 1) e.emit('other'); // a plain emit inside: its promise belongs to this emitAndWait
      if (n === 2) void e.emitAndWait('other').then(() => order.push('inner wait over'));
      return later(`ping ${n} done`, 5);
    });
    await e.emitAndWait('ping', 1);
    order.push('outer 1 over');
    await e.emitAndWait('ping', 2);
    order.push('outer 2 over');
    await new Promise((r) => setTimeout(r, 60));
    expect(order).toEqual(['ping 1 done', 'other done', 'outer 1 over', 'ping 2 done', 'outer 2 over', 'other done', 'inner wait over']);
  });

  it('off() removes a listener registered with on() or once()', () => {
    const e = new Recording();
    const seen: number[] = [];
    const fn = (n: number) => seen.push(n);
    e.on('ping', fn);
    e.emit('ping', 1);
    e.off('ping', fn);
    e.emit('ping', 2);
    const onceFn = (n: number) => seen.push(n * 100);
    e.once('ping', onceFn);
    e.removeListener('ping', onceFn);
    e.emit('ping', 3);
    expect(seen).toEqual([1]);
    expect(e.listenerCount('ping')).toBe(0);
  });

  it('once() fires once; addListener is on()', () => {
    const e = new Recording();
    const seen: number[] = [];
    e.once('ping', (n: number) => seen.push(n));
    e.addListener('ping', (n: number) => seen.push(-n));
    e.emit('ping', 1);
    e.emit('ping', 2);
    expect(seen).toEqual([1, -1, -2]);
  });

  it('passes the context as `this`', () => {
    const e = new Recording();
    const ctx = { name: 'ctx' };
    let seen: unknown;
    e.on(
      'ping',
      function (this: unknown) {
        seen = this;
      },
      ctx,
    );
    e.emit('ping', 1);
    expect(seen).toBe(ctx);
  });

  it('a failing error handler does not take the emitter down', () => {
    class Worse extends SafeEmitter<Events> {
      protected override onListenerError(): void {
        throw new Error('handler broken too');
      }
    }
    const e = new Worse();
    e.on('ping', () => {
      throw new Error('x');
    });
    expect(() => e.emit('ping', 1)).not.toThrow();
  });

  it('by default reports through process.emitWarning', () => {
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const e = new SafeEmitter<Events>();
      e.on('ping', () => {
        throw new Error('listener bug');
      });
      e.emit('ping', 1);
      expect(spy).toHaveBeenCalledWith('A listener of "ping" threw: Error: listener bug');
    } finally {
      spy.mockRestore();
    }
  });
});
