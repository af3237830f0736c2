// fillGaps on its own: paging /messages back to the last delivered event, in order, each once,
// within its bounds, with a reason for everything it does not fill. /messages is a fake here.
import { AbortError, InvalidResponseError, MatrixError } from '../../lib';
import type { Messages } from '../../lib/resources/rooms';
import { fillGaps, GAP_PAGE_SIZE, type GapContext } from '../../lib/sync/gaps';
import type { ClientEvent, SyncResponse } from '../../lib/types';

const ROOM = '!r:hs';
const ME = '@me:hs';

const ev = (n: number, extra: Partial<ClientEvent> = {}): ClientEvent =>
  ({ type: 'm.room.message', event_id: `$${n}`, sender: '@a:hs', origin_server_ts: n, content: { body: `m${n}` }, ...extra }) as ClientEvent;
const ids = (events: ClientEvent[]): string[] => events.map((e) => e.event_id);
const span = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A room whose history is events 1..last; the batch's timeline is `timeline` (limited), prev_batch 'p<first>'. */
function body(timeline: number[], extra: Record<string, unknown> = {}): SyncResponse {
  return {
    next_batch: 'n',
    rooms: { join: { [ROOM]: { timeline: { events: timeline.map((n) => ev(n)), limited: true, prev_batch: `p${timeline[0]}` }, ...extra } } },
  } as SyncResponse;
}

/**
 * A fake /messages over a history of events 1..`last`: token `p<k>` means "before event k";
 * a page back from it holds events k-1, k-2, … (newest first) and `end` is `p<oldest>`.
 */
function history(last: number, opts: { hidden?: Set<number> } = {}) {
  const calls: Array<{ from: string; limit: number }> = [];
  const messages = async (_roomId: string, from: string, limit: number, _signal?: AbortSignal): Promise<Messages> => {
    calls.push({ from, limit });
    const before = Number(from.slice(1));
    const chunk: ClientEvent[] = [];
    for (let k = Math.min(before - 1, last); k >= 1 && chunk.length < limit; k--) if (!opts.hidden?.has(k)) chunk.push(ev(k));
    const oldest = Math.max(1, before - limit);
    return oldest <= 1 ? { start: from, chunk } : { start: from, chunk, end: `p${oldest}` };
  };
  return { calls, messages };
}

function ctx(anchor: string | undefined, messages: GapContext['messages'], extra: Partial<GapContext> = {}): GapContext {
  return {
    incremental: true,
    fillGaps: true,
    reportUnfilled: true,
    maxGapFill: 1000,
    userId: ME,
    signal: new AbortController().signal,
    lastEventId: () => anchor,
    messages,
    ...extra,
  };
}

const timelineOf = (b: SyncResponse) => b.rooms!.join![ROOM].timeline!;

describe('fillGaps: filling', () => {
  it('pages back to the last delivered event and puts the missing events, oldest first, before the batch, with their room_id', async () => {
    const h = history(300);
    const b = body(span(291, 300));
    const gaps = await fillGaps(b, ctx('$150', h.messages));
    expect(gaps).toBeUndefined();
    expect(ids(timelineOf(b).events)).toEqual(span(151, 300).map((n) => `$${n}`));
    expect(timelineOf(b).events.slice(0, 140).every((e) => e.room_id === ROOM)).toBe(true);
    expect(timelineOf(b).limited).toBe(false);
    // Pages of 100 from the timeline's prev_batch, each from the previous page's end.
    expect(h.calls).toEqual([
      { from: 'p291', limit: GAP_PAGE_SIZE },
      { from: 'p191', limit: GAP_PAGE_SIZE },
    ]);
    // prev_batch: older than everything delivered now (the end of the page that reached $150).
    expect(timelineOf(b).prev_batch).toBe('p91');

    // Reaching it on the room's first page: nothing further back, no prev_batch.
    const start = body([10]);
    await fillGaps(start, ctx('$2', history(10).messages));
    expect(ids(timelineOf(start).events)).toEqual(span(3, 10).map((n) => `$${n}`));
    expect(timelineOf(start).prev_batch).toBeUndefined();
  });

  it('delivers each event once: events of the batch or seen twice in the history are left out', async () => {
    const b = body([8, 9, 10]);
    const pages: Messages[] = [
      { start: 'p8', end: 'x1', chunk: [ev(9), ev(7), ev(6), ev(7)] }, // 9 is in the batch, 7 twice
      { start: 'x1', end: 'x2', chunk: [ev(6), ev(5), ev(4)] },
    ];
    let i = 0;
    await fillGaps(b, ctx('$4', async () => pages[i++]));
    expect(ids(timelineOf(b).events)).toEqual(['$5', '$6', '$7', '$8', '$9', '$10']);
  });

  it('asks for no more than maxGapFill: the last page is smaller', async () => {
    const h = history(1000);
    const b = body([1000]);
    const gaps = await fillGaps(b, ctx('$1', h.messages, { maxGapFill: 150 }));
    expect(h.calls.map((c) => c.limit)).toEqual([100, 50]);
    expect(timelineOf(b).events).toHaveLength(151);
    expect(gaps?.get(ROOM)).toEqual({ roomId: ROOM, prevBatch: 'p850', reason: 'limit', filled: 150 });
    expect(timelineOf(b).limited).toBe(true);
    expect(timelineOf(b).prev_batch).toBe('p850');
  });

  it('no gap when the timeline itself reaches back to the last delivered event', async () => {
    const h = history(10);
    const b = body([5, 6, 7]);
    expect(await fillGaps(b, ctx('$6', h.messages))).toBeUndefined();
    expect(h.calls).toEqual([]);
    expect(ids(timelineOf(b).events)).toEqual(['$5', '$6', '$7']);
  });

  it('moves the state events of the gap out of the state block: delivered once, in their place in the timeline', async () => {
    const topic = ev(5, { type: 'm.room.topic', state_key: '', content: { topic: 't' } });
    const member = ev(0, { event_id: '$lazy', type: 'm.room.member', state_key: '@a:hs', content: { membership: 'join' } });
    const b = body([9, 10], { state: { events: [topic, member] } });
    await fillGaps(b, ctx('$3', async () => ({ start: 'p9', chunk: [ev(8), ev(7), ev(6), topic, ev(4), ev(3)] })));
    expect(ids(timelineOf(b).events)).toEqual(['$4', '$5', '$6', '$7', '$8', '$9', '$10']);
    expect(ids(b.rooms!.join![ROOM].state!.events)).toEqual(['$lazy']);
  });

  it('fills left rooms too, and several rooms at once', async () => {
    const h = history(50);
    const b: SyncResponse = {
      next_batch: 'n',
      rooms: {
        join: {
          '!a:hs': { timeline: { events: [ev(50)], limited: true, prev_batch: 'p50' } },
          '!b:hs': { timeline: { events: [ev(50)], limited: true, prev_batch: 'p50' } },
          '!c:hs': { timeline: { events: [ev(50)] } }, // not limited: untouched
        },
        leave: { '!d:hs': { timeline: { events: [ev(50)], limited: true, prev_batch: 'p50' } } },
      },
    } as SyncResponse;
    const anchors: Record<string, string> = { '!a:hs': '$45', '!b:hs': '$40', '!d:hs': '$48' };
    const rooms: string[] = [];
    await fillGaps(b, {
      ...ctx(undefined, (roomId, from, limit, signal) => (rooms.push(roomId), h.messages(roomId, from, limit, signal))),
      lastEventId: (roomId) => anchors[roomId],
    });
    expect(ids(b.rooms!.join!['!a:hs'].timeline!.events)).toEqual(span(46, 50).map((n) => `$${n}`));
    expect(ids(b.rooms!.join!['!b:hs'].timeline!.events)).toEqual(span(41, 50).map((n) => `$${n}`));
    expect(ids(b.rooms!.leave!['!d:hs'].timeline!.events)).toEqual(['$49', '$50']);
    expect(b.rooms!.join!['!c:hs'].timeline!.events).toHaveLength(1);
    expect(rooms.sort()).toEqual(['!a:hs', '!b:hs', '!d:hs']);
  });
});

describe('fillGaps: what is not filled gets a reason', () => {
  it('disabled: nothing fetched, the gap reported with the server prev_batch', async () => {
    const h = history(100);
    const b = body([99, 100]);
    const gaps = await fillGaps(b, ctx('$1', h.messages, { fillGaps: false }));
    expect(gaps?.get(ROOM)).toEqual({ roomId: ROOM, prevBatch: 'p99', reason: 'disabled', filled: 0 });
    expect(h.calls).toEqual([]);
    expect(timelineOf(b)).toMatchObject({ limited: true, prev_batch: 'p99' });
  });

  it('gaps decided without a request are not returned when nobody listens for them (reportUnfilled false); the timeline still says limited', async () => {
    const b = body([99, 100]);
    expect(await fillGaps(b, ctx('$1', history(100).messages, { fillGaps: false, reportUnfilled: false }))).toBeUndefined();
    expect(await fillGaps(b, ctx(undefined, history(100).messages, { reportUnfilled: false }))).toBeUndefined();
    expect(timelineOf(b)).toMatchObject({ limited: true, prev_batch: 'p99' });
  });

  it.each([
    ['no last event is known for the room', { anchor: undefined, incremental: true, extra: {} }],
    ['the first sync of a run (no since)', { anchor: '$1', incremental: false, extra: {} }],
    [
      'the user (re)joined in this batch',
      {
        anchor: '$1',
        incremental: true,
        extra: { state: { events: [ev(0, { event_id: '$j', type: 'm.room.member', state_key: ME, content: { membership: 'join' } })] } },
      },
    ],
  ])('unknown_position when %s: no history fetched', async (_what, { anchor, incremental, extra }) => {
    const h = history(100);
    const b = body([100], extra);
    const gaps = await fillGaps(b, ctx(anchor, h.messages, { incremental }));
    expect(gaps?.get(ROOM)).toEqual({ roomId: ROOM, prevBatch: 'p100', reason: 'unknown_position', filled: 0 });
    expect(h.calls).toEqual([]);
  });

  it('a profile change of the user (a join after a join) is not a rejoin: the gap is filled', async () => {
    const h = history(10);
    const profile = ev(10, { type: 'm.room.member', state_key: ME, content: { membership: 'join' }, unsigned: { prev_content: { membership: 'join' } } });
    const b = body([9]);
    timelineOf(b).events.push(profile);
    expect(await fillGaps(b, ctx('$5', h.messages))).toBeUndefined();
    expect(ids(timelineOf(b).events)).toEqual(['$6', '$7', '$8', '$9', '$10']);
  });

  it('history_end: the history ended before the last delivered event (hidden or purged); what was found is delivered', async () => {
    const h = history(20, { hidden: new Set([3]) });
    const b = body([20]);
    const gaps = await fillGaps(b, ctx('$3', h.messages));
    expect(gaps?.get(ROOM)).toEqual({ roomId: ROOM, prevBatch: undefined, reason: 'history_end', filled: 18 });
    expect(timelineOf(b).events).toHaveLength(19);
    expect(timelineOf(b).prev_batch).toBeUndefined();
  });

  it.each([
    ['403', new MatrixError({ method: 'GET', path: '/m' }, 403, { errcode: 'M_FORBIDDEN' })],
    ['404', new MatrixError({ method: 'GET', path: '/m' }, 404, { errcode: 'M_NOT_FOUND' })],
    ['a network failure', new Error('ECONNRESET')],
  ])('error (%s): the pages fetched before are delivered, the gap reported with the error and where it continues', async (_what, failure) => {
    let n = 0;
    const b = body([300]);
    const gaps = await fillGaps(
      b,
      ctx('$1', async (_r, from) => {
        if (n++ === 1) throw failure;
        return { start: from, end: 'p200', chunk: span(200, 299).reverse().map((k) => ev(k)) };
      }),
    );
    expect(gaps?.get(ROOM)).toEqual({ roomId: ROOM, prevBatch: 'p200', reason: 'error', error: failure, filled: 100 });
    expect(timelineOf(b).events).toHaveLength(101);
    expect(timelineOf(b).prev_batch).toBe('p200');
  });

  it('error: a limited timeline without prev_batch cannot be filled', async () => {
    const b = body([5]);
    delete timelineOf(b).prev_batch;
    const gaps = await fillGaps(b, ctx('$1', history(5).messages));
    expect(gaps?.get(ROOM)).toMatchObject({ reason: 'error', prevBatch: undefined, filled: 0 });
    expect(gaps?.get(ROOM)?.error).toBeInstanceOf(InvalidResponseError);
  });

  it('a stop while filling throws AbortError (nothing is delivered for the batch)', async () => {
    const controller = new AbortController();
    const b = body([5]);
    const filling = fillGaps(
      b,
      ctx('$1', () => {
        controller.abort();
        return Promise.reject(new AbortError());
      }, { signal: controller.signal }),
    );
    await expect(filling).rejects.toBeInstanceOf(AbortError);
  });

  it('a store that fails to say where a room stopped fails the fill (the loop stops on store failures)', async () => {
    const b = body([5]);
    const failing = ctx(undefined, history(5).messages, { lastEventId: () => Promise.reject(new Error('disk gone')) });
    await expect(fillGaps(b, failing)).rejects.toThrow('disk gone');
  });
});

describe('fillGaps: a hostile /messages ends the fill within its bounds', () => {
  const hostile = async (pages: (from: string, n: number) => unknown, maxGapFill = 1000) => {
    let n = 0;
    const b = body([1000]);
    const gaps = await fillGaps(b, ctx('$never', async (_r, from) => pages(from, n++) as Messages, { maxGapFill }));
    return { gap: gaps!.get(ROOM)!, requests: n, delivered: timelineOf(b).events.length - 1 };
  };

  it('a chunk that is not an array (a fake length included): error, nothing iterated', async () => {
    const { gap, requests } = await hostile(() => ({ start: 's', end: 'e', chunk: { length: 1e15 } }));
    expect(gap.reason).toBe('error');
    expect((gap.error as Error).message).toMatch(/chunk is not an array/);
    expect(requests).toBe(1);
  });

  it('a body that is not an object: error', async () => {
    const { gap } = await hostile(() => null);
    expect(gap.reason).toBe('error');
  });

  it('no end token: the history ends there', async () => {
    const { gap, requests, delivered } = await hostile(() => ({ start: 's', chunk: [ev(999)] }));
    expect(gap).toMatchObject({ reason: 'history_end', filled: 1 });
    expect([requests, delivered]).toEqual([1, 1]);
  });

  it('the same token again: error, no loop', async () => {
    const { gap, requests } = await hostile((from) => ({ start: from, end: 'same', chunk: [] }));
    expect(gap.reason).toBe('error');
    expect((gap.error as Error).message).toMatch(/same pagination token/);
    expect(requests).toBe(2);
  });

  it('an end that is not a token: error', async () => {
    const { gap } = await hostile(() => ({ start: 's', end: { evil: true }, chunk: [] }));
    expect(gap.reason).toBe('error');
  });

  it('an endless chain of empty pages with new tokens: at most 2·⌈max/100⌉+2 requests, then limit', async () => {
    const { gap, requests, delivered } = await hostile((_from, n) => ({ start: 's', end: `t${n}`, chunk: [] }), 300);
    expect(gap.reason).toBe('limit');
    expect(requests).toBe(8);
    expect(delivered).toBe(0);
  });

  it('an endless chain of full pages of new events: maxGapFill events, then limit', async () => {
    let k = 0;
    const { gap, requests, delivered } = await hostile((_from, n) => ({ start: 's', end: `t${n}`, chunk: Array.from({ length: 100 }, () => ev(++k + 5000)) }), 250);
    expect(gap).toMatchObject({ reason: 'limit', filled: 250 });
    expect([requests, delivered]).toEqual([3, 250]);
  });

  it('a page larger than asked for: only what was asked is taken, and the rest stays in the gap', async () => {
    const { gap, delivered } = await hostile((from) => ({ start: from, end: 'e', chunk: Array.from({ length: 5000 }, (_, i) => ev(i + 10)) }), 50);
    expect(delivered).toBe(50);
    expect(gap).toMatchObject({ reason: 'limit', prevBatch: 'p1000', filled: 50 });
  });

  it('malformed events in a page are left out', async () => {
    let n = 0;
    const b = body([10]);
    await fillGaps(b, ctx('$7', async () => (n++ === 0 ? ({ start: 's', end: 'e', chunk: [null, ev(9), 5, { type: 7 }, ev(8), ev(7)] } as unknown as Messages) : { start: 's', chunk: [] })));
    expect(ids(timelineOf(b).events)).toEqual(['$8', '$9', '$10']);
  });
});
