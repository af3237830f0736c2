// The outgoing-requests loop's plumbing, with a fake engine: each request kind becomes the
// right HTTP call, the answer goes back with markRequestAsSent, and one pass runs at a time.
import nock from 'nock';
import { RequestCore } from '../../lib';
import { OutgoingRequests, RequestType, toHttp, type EngineRequest, type OutgoingMachine } from '../../lib/crypto/outgoing';
import { BASE, guardNock, TOKEN } from '../helpers/fixtures';

guardNock();

function core(): RequestCore {
  const c = new RequestCore({ baseUrl: BASE, maxRetries: 0 }, { rateLimited: () => {}, tokenRefreshed: () => {}, sessionExpired: () => {} });
  c.credentials.set({ accessToken: TOKEN, userId: '@bot:example.org', deviceId: 'DEV' });
  return c;
}

const body = (value: object) => JSON.stringify(value);

/** One request of each kind, as the engine makes them. */
const REQUESTS: Array<[EngineRequest, string, string, object?]> = [
  [{ id: 'u1', type: RequestType.KeysUpload, body: body({ device_keys: { a: 1 } }) }, 'POST', '/_matrix/client/v3/keys/upload'],
  [{ id: 'q1', type: RequestType.KeysQuery, body: body({ device_keys: { '@x:y': [] } }) }, 'POST', '/_matrix/client/v3/keys/query'],
  [{ id: 'c1', type: RequestType.KeysClaim, body: body({ one_time_keys: {} }) }, 'POST', '/_matrix/client/v3/keys/claim'],
  [{ id: 's1', type: RequestType.SignatureUpload, body: body({ '@x:y': {} }) }, 'POST', '/_matrix/client/v3/keys/signatures/upload'],
  [
    { id: 't/1', type: RequestType.ToDevice, event_type: 'm.room.encrypted', txn_id: 't/1', body: body({ messages: {} }) },
    'PUT',
    '/_matrix/client/v3/sendToDevice/m.room.encrypted/t%2F1',
  ],
  [
    { id: 'r1', type: RequestType.RoomMessage, room_id: '!r:x', event_type: 'm.key.verification.ready', txn_id: 'x1', body: body({ a: 1 }) },
    'PUT',
    '/_matrix/client/v3/rooms/!r%3Ax/send/m.key.verification.ready/x1',
  ],
  [{ id: 'b1', type: RequestType.KeysBackup, version: '7', body: body({ rooms: {} }) }, 'PUT', '/_matrix/client/v3/room_keys/keys?version=7'],
];

class FakeMachine implements OutgoingMachine {
  queue: EngineRequest[][] = [];
  backup?: EngineRequest;
  backupEnabled = false;
  marked: Array<[string, number, unknown]> = [];
  passes = 0;
  gate?: Promise<void>;
  async outgoingRequests(): Promise<EngineRequest[]> {
    this.passes++;
    await this.gate;
    return this.queue.shift() ?? [];
  }
  async backupRoomKeys(): Promise<EngineRequest | undefined> {
    const b = this.backup;
    this.backup = undefined;
    return b;
  }
  async isBackupEnabled(): Promise<boolean> {
    return this.backupEnabled;
  }
  async markRequestAsSent(id: string, type: number, response: string): Promise<boolean> {
    this.marked.push([id, type, JSON.parse(response)]);
    return true;
  }
}

describe('toHttp', () => {
  it.each(REQUESTS.map(([r, m, p]) => [r.type, m, p, r] as const))('request type %i → %s %s', (_type, method, p, request) => {
    const spec = toHttp(request);
    expect(spec.method + ' ' + spec.path + (spec.query?.version ? `?version=${spec.query.version}` : '')).toBe(`${method} ${p}`);
    expect(spec.body).toEqual(JSON.parse(request.body));
    // Every one may be repeated: the server deduplicates the sends by their txnId.
    expect(spec.idempotency).toBe('safe');
  });

  it('refuses a request type it does not know', () => {
    expect(() => toHttp({ type: 42, body: '{}' })).toThrow(/Unknown outgoing request type 42/);
  });
});

describe('OutgoingRequests', () => {
  it('sends each request through the core (with the token) and marks it sent with the response', async () => {
    const machine = new FakeMachine();
    machine.queue.push(REQUESTS.map(([r]) => r));
    const replies = new Map<string, object>();
    for (const [request, method, p] of REQUESTS) {
      const reply = { answer: request.id };
      replies.set(request.id!, reply);
      nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
        .intercept(p, method, JSON.parse(request.body) as nock.RequestBodyMatcher)
        .reply(200, request.type === RequestType.RoomMessage ? { ...reply, event_id: '$e' } : reply);
    }
    const errors: unknown[] = [];
    await new OutgoingRequests(machine, core(), new AbortController().signal, (e) => errors.push(e)).run();
    expect(errors).toEqual([]);
    expect(machine.marked.map(([id, type]) => [id, type]).sort()).toEqual(REQUESTS.map(([r]) => [r.id, r.type]).sort());
    for (const [id, , response] of machine.marked) expect(response).toMatchObject(replies.get(id)!);
  });

  it('adds the key backup request when a backup is enabled', async () => {
    const machine = new FakeMachine();
    machine.backupEnabled = true;
    machine.backup = REQUESTS[6][0];
    nock(BASE).put('/_matrix/client/v3/room_keys/keys').query({ version: '7' }).reply(200, { etag: '1', count: 3 });
    await new OutgoingRequests(machine, core(), new AbortController().signal, () => {}).run();
    expect(machine.marked).toEqual([['b1', RequestType.KeysBackup, { etag: '1', count: 3 }]]);
  });

  it('reports a failed request without marking it (it goes out again later) and sends the others', async () => {
    const machine = new FakeMachine();
    machine.queue.push([REQUESTS[0][0], REQUESTS[1][0]]);
    nock(BASE).post('/_matrix/client/v3/keys/upload').reply(500, { errcode: 'M_UNKNOWN', error: 'boom' });
    nock(BASE).post('/_matrix/client/v3/keys/query').reply(200, { device_keys: {} });
    const errors: unknown[] = [];
    await new OutgoingRequests(machine, core(), new AbortController().signal, (e) => errors.push(e)).run();
    expect(errors).toEqual([expect.objectContaining({ name: 'MatrixError', httpStatus: 500 })]);
    expect(machine.marked.map(([id]) => id)).toEqual(['q1']);
  });

  it('runs one pass at a time; callers during a pass share one more pass after it', async () => {
    const machine = new FakeMachine();
    let open!: () => void;
    machine.gate = new Promise((r) => (open = r));
    const loop = new OutgoingRequests(machine, core(), new AbortController().signal, () => {});
    const first = loop.run();
    const second = loop.run();
    const third = loop.run();
    expect(second).toBe(third);
    await Promise.resolve();
    expect(machine.passes).toBe(1);
    const idle = loop.settled();
    open();
    await first;
    await Promise.all([second, third]);
    await idle;
    expect(machine.passes).toBe(2);
    await loop.run();
    expect(machine.passes).toBe(3);
  });

  it('does nothing once aborted, and reports nothing of requests the abort cut short', async () => {
    const machine = new FakeMachine();
    const controller = new AbortController();
    const errors: unknown[] = [];
    const loop = new OutgoingRequests(machine, core(), controller.signal, (e) => errors.push(e));
    machine.queue.push([REQUESTS[0][0]]);
    nock(BASE).post('/_matrix/client/v3/keys/upload').delay(200).reply(200, {});
    const pass = loop.run();
    await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await pass.catch(() => undefined);
    nock.abortPendingRequests();
    expect(errors).toEqual([]);
    const before = machine.passes;
    await loop.run();
    expect(machine.passes).toBe(before);
  });
});
