// A node:http server on 127.0.0.1 (ephemeral port) for what only a broken server shows at
// the transport level: bodies larger than a limit, bodies cut short, replies that never come.
// nock is unhooked for the file that uses it, so requests reach real sockets.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import nock from 'nock';

export interface Stub {
  url: string;
  /** Requests seen, in order (method and path). */
  seen: string[];
  /** Their bodies, as received (for a request cut off by the client: what arrived). */
  bodies: Buffer[];
  /** Their headers. */
  headers: IncomingHttpHeaders[];
  /** Whether each request's body arrived whole (false: the client cut it off). */
  complete: boolean[];
  close(): Promise<void>;
}

export type StubHandler = (req: IncomingMessage, res: ServerResponse, index: number, body: Buffer) => void;

/** Call once at the top of a spec file that talks to stub servers. */
export function useRealSockets(): void {
  beforeAll(() => nock.restore());
}

export async function startStub(handler: StubHandler): Promise<Stub> {
  const seen: string[] = [];
  const bodies: Buffer[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const complete: boolean[] = [];
  const server: Server = createServer((req, res) => {
    const index = seen.push(`${req.method} ${req.url}`) - 1;
    headers.push(req.headers);
    const chunks: Buffer[] = [];
    bodies[index] = Buffer.alloc(0);
    complete[index] = false;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('close', () => (bodies[index] = Buffer.concat(chunks)));
    req.on('end', () => {
      complete[index] = true;
      bodies[index] = Buffer.concat(chunks);
      handler(req, res, index, bodies[index]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    bodies,
    headers,
    complete,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a streamed reply did: how much the server wrote, and whether the client hung up first. */
export interface StreamOutcome {
  written: number;
  finished: boolean;
  closedEarly: Promise<boolean>;
}

/**
 * Streams `total` bytes of a JSON string body (`{"x":"aaaa…"}`), chunk by chunk, respecting
 * backpressure, and stops as soon as the client closes the connection.
 */
export function streamBody(res: ServerResponse, total: number, chunkSize = 64 * 1024): StreamOutcome {
  const outcome: StreamOutcome = { written: 0, finished: false, closedEarly: Promise.resolve(false) };
  const chunk = Buffer.alloc(chunkSize, 'a');
  let closed = false;
  outcome.closedEarly = new Promise((resolve) => {
    res.on('close', () => {
      closed = true;
      resolve(!outcome.finished);
    });
  });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(total) });
  res.write('{"x":"');
  outcome.written = 6;
  const pump = () => {
    while (!closed && outcome.written < total - 2) {
      const n = Math.min(chunk.length, total - 2 - outcome.written);
      outcome.written += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
    }
    if (closed) return;
    outcome.finished = true;
    res.end('"}');
  };
  pump();
  return outcome;
}

/** Writes a 200 head promising `promised` bytes of body, sends `body` (fewer), then closes the connection. */
export function truncatedReply(res: ServerResponse, body: string, promised = body.length + 100): void {
  const socket = res.socket!;
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${promised}\r\n\r\n${body}`);
  socket.end();
}
