// A TCP proxy on 127.0.0.1 that sits in front of Synapse and misbehaves on purpose.
// No SDK code here: it must stay a neutral witness of what the client sent.
//
// What it can do to a request (its "fate"):
//   pass       forward the request, relay the response
//   delay      forward the request, hold the response back for `delayMs`
//   reset      forward the request, and as soon as the server starts answering (so it has
//              acted on the request), reset the client connection (RST) instead of relaying:
//              the client sees ECONNRESET for a request that DID reach the server
//   badGateway never forward; answer with a raw `HTTP/1.1 502` HTML page
//   stall      forward the request, never relay the response (the server acted on it; the
//              client's timeout ends the wait)
//   truncate   forward the request, relay the response head (with its Content-Length) and
//              half the body, then close: the client sees a body cut short
//   blackhole  accept and read, never answer (the `blackhole` switch; overrides the rates)
//
// With `pathPrefix`, the proxy stands for a homeserver behind a reverse-proxy path: it strips
// the prefix from each request line before forwarding, and answers 404 (never forwarding) to
// any request whose path does not start with it.
//
// Keep-alive: the proxy reads the request head only (request line and headers, up to the
// blank line), and rewrites its `Connection` header to `close`; it also rewrites the
// response's to `close`. Each client connection therefore carries exactly one request, so a
// fate decided per connection is a fate per request. (The client sees `Connection: close` on
// every answer and never reuses the socket; nothing is pipelined behind the first request.)
import { createServer, connect, type Server, type Socket } from 'node:net';

export type Fate = 'pass' | 'delay' | 'reset' | 'badGateway' | 'stall' | 'truncate' | 'blackhole' | 'notFound';

export interface FaultSettings {
  /** Share (0–1) of requests forwarded and then reset before the response is relayed. */
  resetRate: number;
  /** Share of requests answered by the proxy with an HTML 502, never forwarded. */
  badGatewayRate: number;
  /** Share of requests whose response is held back for `delayMs`. */
  delayRate: number;
  delayMs: number;
  /** Share of requests forwarded whose response is never relayed (a fault: the client times out). */
  stallRate: number;
  /** Share of requests whose response is relayed cut short, half its body (a fault). */
  truncateRate: number;
  /** Accept and never answer (for timeouts and aborts). */
  blackhole: boolean;
  /** A path prefix the proxy strips (a reverse-proxy path); requests without it get a 404. */
  pathPrefix?: string;
  /**
   * At most this many faults (reset, 502, stall or truncate) for one request line (method + path; a PUT with
   * a transaction ID keeps its path across retries). Bounds how often one request can be hit,
   * so a client with more retries than this always gets through: the outcome is then decided
   * by the client's logic, not by the dice.
   */
  maxFaultsPerRequest: number;
  /** Which requests may be faulted (default: every one). Blackhole ignores this. */
  applies: (method: string, path: string) => boolean;
}

export interface FaultCounters {
  connections: number;
  requests: number;
  passed: number;
  delayed: number;
  reset: number;
  badGateway: number;
  stalled: number;
  truncated: number;
  blackholed: number;
  notFound: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  fate: Fate;
}

export interface FaultProxy {
  url: string;
  port: number;
  counters: FaultCounters;
  /** Every request head the proxy read, in arrival order. */
  seen: SeenRequest[];
  /** Change the knobs at run time (e.g. switch blackhole on). */
  set(settings: Partial<FaultSettings>): void;
  /** Faults injected so far (reset + badGateway + stalled + truncated). */
  faults(): number;
  close(): Promise<void>;
}

const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

const NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found';

const BAD_GATEWAY_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>fault-proxy</center>\r\n</body>\r\n</html>\r\n';
const BAD_GATEWAY =
  'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n' +
  `Content-Length: ${Buffer.byteLength(BAD_GATEWAY_PAGE)}\r\nConnection: close\r\n\r\n${BAD_GATEWAY_PAGE}`;

/** Small seeded PRNG (mulberry32), so a run's dice can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Replaces any Connection / Keep-Alive header of an HTTP head with `Connection: close`. */
function closeHead(head: string): string {
  const lines = head.split('\r\n').filter((l) => !/^(connection|keep-alive|proxy-connection)\s*:/i.test(l));
  return [...lines, 'Connection: close'].join('\r\n');
}

/** Splits `buf` at the end of the HTTP head: [head without the blank line, the rest], or undefined if incomplete. */
function splitHead(buf: Buffer): [string, Buffer] | undefined {
  const at = buf.indexOf(HEAD_END);
  if (at < 0) return undefined;
  return [buf.subarray(0, at).toString('latin1'), buf.subarray(at + HEAD_END.length)];
}

export async function startFaultProxy(target: string, settings: Partial<FaultSettings> & { seed?: number } = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const upstreamPort = Number(upstream.port || 80);
  const upstreamHost = upstream.hostname;
  const s: FaultSettings = {
    resetRate: 0,
    badGatewayRate: 0,
    delayRate: 0,
    delayMs: 100,
    stallRate: 0,
    truncateRate: 0,
    blackhole: false,
    maxFaultsPerRequest: Infinity,
    applies: () => true,
    ...settings,
  };
  const seed = settings.seed ?? Date.now() % 2 ** 31;
  const dice = rng(seed);
  const counters: FaultCounters = {
    connections: 0,
    requests: 0,
    passed: 0,
    delayed: 0,
    reset: 0,
    badGateway: 0,
    stalled: 0,
    truncated: 0,
    blackholed: 0,
    notFound: 0,
  };
  const seen: SeenRequest[] = [];
  const faultsPerLine = new Map<string, number>();
  const open = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  function decide(method: string, path: string): Fate {
    if (s.blackhole) return 'blackhole';
    if (!s.applies(method, path)) return 'pass';
    const line = `${method} ${path}`;
    const r = dice();
    const faulted = faultsPerLine.get(line) ?? 0;
    let fate: Fate = 'pass';
    let bound = 0;
    for (const [rate, which] of [
      [s.resetRate, 'reset'],
      [s.badGatewayRate, 'badGateway'],
      [s.stallRate, 'stall'],
      [s.truncateRate, 'truncate'],
      [s.delayRate, 'delay'],
    ] as const) {
      bound += rate;
      if (r < bound) {
        fate = which;
        break;
      }
    }
    const isFault = fate !== 'pass' && fate !== 'delay';
    if (isFault && faulted >= s.maxFaultsPerRequest) fate = 'pass';
    else if (isFault) faultsPerLine.set(line, faulted + 1);
    return fate;
  }

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function handle(client: Socket): void {
    counters.connections++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    let buffered = Buffer.alloc(0);

    const onHead = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const split = splitHead(buffered);
      if (!split) {
        if (buffered.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off('data', onHead);
      const [head, rest] = split;
      const [requestLine, ...headers] = head.split('\r\n');
      const [method = '?', path = '?', version = 'HTTP/1.1'] = requestLine.split(' ');
      const contentLength = Number(/^content-length\s*:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      counters.requests++;
      const prefix = s.pathPrefix;
      if (prefix !== undefined && !(path === prefix || path.startsWith(`${prefix}/`))) {
        counters.notFound++;
        seen.push({ method, path, fate: 'notFound' });
        return void client.end(NOT_FOUND);
      }
      const forwardedPath = prefix === undefined ? path : path.slice(prefix.length) || '/';
      const fate = decide(method, forwardedPath);
      seen.push({ method, path, fate });
      route(client, fate, closeHead([`${method} ${forwardedPath} ${version}`, ...headers].join('\r\n')), rest, contentLength);
    };
    client.on('data', onHead);
  }

  function route(client: Socket, fate: Fate, head: string, rest: Buffer, contentLength: number): void {
    if (fate === 'blackhole') {
      counters.blackholed++;
      client.resume(); // read and drop whatever else comes; never answer
      return;
    }
    if (fate === 'badGateway') {
      counters.badGateway++;
      // Answer once the whole body is in, so the client is not writing into a closed socket.
      let received = rest.length;
      const answer = () => void client.end(BAD_GATEWAY);
      if (received >= contentLength) return answer();
      client.on('data', (c: Buffer) => {
        received += c.length;
        if (received >= contentLength) answer();
      });
      return;
    }

    const server = connect(upstreamPort, upstreamHost);
    open.add(server);
    // A stalled or truncated reply is not ended by the upstream's close: the first never ends
    // (the client's timeout does that), the second ends with what it is given below.
    const endsWithUpstream = fate === 'pass' || fate === 'reset';
    server.on('close', () => {
      open.delete(server);
      if (endsWithUpstream) client.end();
    });
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
    server.write(`${head}\r\n\r\n`);
    if (rest.length) server.write(rest);
    client.pipe(server);

    if (fate === 'truncate') {
      // The whole response first (the upstream connection is `close`), then its head and half its body.
      counters.truncated++;
      const parts: Buffer[] = [];
      server.on('data', (chunk: Buffer) => parts.push(chunk));
      server.on('end', () => {
        const split = splitHead(Buffer.concat(parts));
        if (!split || split[1].length < 2) return void client.destroy();
        client.end(Buffer.concat([Buffer.from(`${closeHead(split[0])}\r\n\r\n`, 'latin1'), split[1].subarray(0, split[1].length >> 1)]));
      });
      return;
    }

    let responseHead = Buffer.alloc(0);
    let relaying = false;
    let firstByte = true;
    const queue: Buffer[] = [];
    let released = fate === 'pass' || fate === 'reset';
    let upstreamEnded = false;
    const flush = () => {
      for (const c of queue.splice(0)) client.write(c);
      if (upstreamEnded) client.end();
    };
    server.on('end', () => {
      upstreamEnded = true;
      if (released) flush();
    });
    if (fate === 'delay') {
      counters.delayed++;
      later(s.delayMs, () => {
        released = true;
        flush();
      });
    } else if (fate === 'pass') {
      counters.passed++;
    } else if (fate === 'stall') {
      counters.stalled++;
    }

    server.on('data', (chunk: Buffer) => {
      if (fate === 'stall') return; // read and dropped: the client waits until it gives up
      if (fate === 'reset') {
        if (firstByte) {
          firstByte = false;
          counters.reset++;
          // The server has acted on the request; the client never learns of it.
          client.resetAndDestroy();
          server.destroy();
        }
        return;
      }
      if (!relaying) {
        responseHead = Buffer.concat([responseHead, chunk]);
        const split = splitHead(responseHead);
        if (!split) return;
        relaying = true;
        chunk = Buffer.concat([Buffer.from(`${closeHead(split[0])}\r\n\r\n`, 'latin1'), split[1]]);
      }
      queue.push(chunk);
      if (released) flush();
    });
  }

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counters,
    seen,
    set(next) {
      Object.assign(s, next);
    },
    faults: () => counters.reset + counters.badGateway + counters.stalled + counters.truncated,
    close() {
      for (const t of timers) clearTimeout(t);
      for (const sock of open) sock.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
