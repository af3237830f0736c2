// A tiny homeserver on 127.0.0.1 (node:http, ephemeral port) for the sync loop's hostile-server
// specs: each request is answered by the test's handler, so a spec can serve any /sync body,
// status or header a broken server might, and count what the loop asked for.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MatrixSession, type SessionOptions } from '../../lib';

export interface StubRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** How many requests to this path came before this one. */
  n: number;
  at: number;
}

/** A status, a body (an object is sent as JSON, a string as is) and headers; or 'hang': never answer. */
export type StubReply = { status?: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface SyncStub {
  url: string;
  requests: StubRequest[];
  /** Requests to paths containing `fragment`. */
  count(fragment: string): number;
  close(): Promise<void>;
}

/** Answers /versions itself (the loop's probe) unless the handler does; everything else goes to `handler`. */
export async function startSyncStub(handler: (req: StubRequest) => StubReply | Promise<StubReply>): Promise<SyncStub> {
  const requests: StubRequest[] = [];
  const open = new Set<ServerResponse>();
  const perPath = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const n = perPath.get(url.pathname) ?? 0;
    perPath.set(url.pathname, n + 1);
    const seen: StubRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, n, at: Date.now() };
    requests.push(seen);
    req.resume();
    open.add(res);
    res.on('close', () => open.delete(res));
    void (async () => {
      const reply: StubReply =
        url.pathname === '/_matrix/client/versions' ? { body: { versions: ['v1.11'] } } : await handler(seen);
      if (reply === 'hang') return;
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
      res.writeHead(reply.status ?? 200, { 'Content-Type': 'application/json', ...reply.headers });
      res.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (fragment) => requests.filter((r) => r.path.includes(fragment)).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `ok` until it holds; fails after 10 s (a missing wait, not a slow machine: the conditions are events, not timings). */
export async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * For a spec file: one stub at a time (`serve`) and logged-in sessions on it (`session`),
 * all closed after each test.
 */
export function useSyncStub(userId = '@me:stub') {
  let stub: SyncStub | undefined;
  const sessions: MatrixSession[] = [];
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await stub?.close();
    stub = undefined;
  });
  return {
    /** Starts a stub answering with `handler` (closing the previous one first). */
    async serve(handler: Parameters<typeof startSyncStub>[0]): Promise<SyncStub> {
      await stub?.close();
      stub = await startSyncStub(handler);
      return stub;
    },
    session(url: string, extra: Partial<SessionOptions> = {}): MatrixSession {
      const s = new MatrixSession({ baseUrl: url, accessToken: 'tok', userId, deviceId: 'DEV', maxRetries: 0, ...extra });
      sessions.push(s);
      return s;
    },
  };
}
