import { setMaxListeners } from 'node:events';
import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { prepareBody, readText, ResponseStream, type PreparedBody, type RawBody, type UploadStream } from './body';
import { Credentials } from './credentials';
import {
  AbortError,
  ConnectionError,
  InvalidResponseError,
  MatrixError,
  MatrixSessionError,
  NotLoggedInError,
  ResponseTooLargeError,
  TimeoutError,
  ValidationError,
  type RequestTarget,
} from './errors';
import { queryString, type QueryValue } from './path';
import { dispositionFilename, parseSuccess, toMatrixError, type FieldRule } from './response';
import {
  backoffDelay,
  clampDelay,
  DEFAULT_RETRY,
  MAX_TIMER_MS,
  NEVER_SENT_CODES,
  sleep,
  isTransient,
  type Idempotency,
  type RetrySettings,
} from './retry';
import { check } from './validate';

/** Default `maxResponseBytes`: far above any real JSON reply, far below what would hurt a process. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * What axios reports, in its http adapter, for a body cut short: the connection closed before
 * the Content-Length (or the last chunk) arrived. Ours is the clearer ConnectionError code.
 */
const AXIOS_TRUNCATED = 'stream has been aborted';
const TRUNCATED_CODE = 'ERR_RESPONSE_TRUNCATED';

/**
 * The connection pool: what Node's global agents do (keep-alive, most recently used socket
 * first, idle sockets closed after 5 s), with the TCP keep-alive delay axios sets on every
 * socket it is given (60 s). With the global agents' 1 s the two took turns: eight
 * setsockopt calls per request.
 */
const AGENT_OPTIONS: AgentOptions = { keepAlive: true, keepAliveMsecs: 60_000, scheduling: 'lifo', timeout: 5_000 };

/** Idle AbortControllers kept for reuse (enough for a busy app's requests in flight). */
const MAX_IDLE_CONTROLLERS = 64;

/** What is read of an error reply to a streamed request (a MatrixError keeps about 64 KiB of it anyway). */
const STREAM_ERROR_BODY_BYTES = 256 * 1024;

/** Redirects followed where an endpoint allows them (media downloads, discovery). */
const MAX_REDIRECTS = 5;

/** The HTTP methods the Client-Server API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Options every public method takes as its last argument. */
export interface RequestOptions {
  /** Aborts the request (and any wait for a retry); it then fails with AbortError. */
  signal?: AbortSignal;
  /**
   * Per-attempt timeout. When it passes, a safe request is sent again (within maxRetries);
   * otherwise the call fails with TimeoutError.
   */
  timeoutMs?: number;
  /** Overrides the session's `maxRetries` for this call. */
  maxRetries?: number;
}

/** One endpoint call, as a resource method describes it to the core. */
export interface RequestSpec {
  /** The HTTP method. */
  method: HttpMethod;
  /** Built with the `path` tag, so every parameter is already encoded. */
  path: string;
  /** The query string's parameters, encoded by the core (see QueryValue). */
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * Sent as it is instead of JSON (a media upload): bytes, a file, a stream or a stream
   * factory, with its Content-Type and Content-Length. A one-shot stream is never sent
   * twice: once its first byte was read, a failure is final.
   */
  rawBody?: RawBody;
  /** `required` (default): send the token, fail early without one. `optional`: send it if held. */
  auth?: 'required' | 'optional' | 'none';
  /** Defaults to `safe` for GET and `unsafe` otherwise; see retry.ts. */
  idempotency?: Idempotency;
  /** Top-level fields a 2xx body must have; their absence is an InvalidResponseError. */
  required?: readonly string[];
  /**
   * Top-level fields of a 2xx body the SDK relies on, and what each must be
   * (`user_id: 'userId'`, `refresh_token: 'token?'`); a mismatch is an InvalidResponseError.
   */
  fields?: Readonly<Record<string, FieldRule>>;
  /** The 2xx body is a JSON array (GET /rooms/{roomId}/state); anything else is an InvalidResponseError. */
  returnsArray?: boolean;
  /** Another origin than the session's base URL (server discovery). */
  baseUrl?: string;
  /**
   * Follows up to 5 redirects (307/308 to a CDN for media). The Authorization header never
   * goes to another origin than the one it was first sent to.
   */
  followRedirects?: boolean;
  /** Headers of the endpoint's own; the core sets Authorization, Content-Type and Content-Length. */
  headers?: Record<string, string>;
  /** The endpoint's own default timeout (sync: its long-poll time plus a margin). */
  timeoutMs?: number;
  /**
   * This endpoint's own size limit for the reply, in place of the session's `maxResponseBytes`
   * (for `stream()`, the `maxBytes` of a download).
   */
  maxResponseBytes?: number;
  /**
   * Secrets this request carries besides the tokens the core holds (passwords, a refresh
   * token): replaced with `[redacted]` in anything the server writes into a MatrixError.
   */
  secrets?: ReadonlyArray<string | undefined>;
}

/** The request core's settings: the homeserver, time and size limits, retries, logging (all but `baseUrl` optional). */
export interface CoreOptions extends Partial<RetrySettings> {
  /** The homeserver, `http://` or `https://`, optionally with a path; no query, fragment or user info. */
  baseUrl: string;
  /** Default per-attempt timeout, 30 s. */
  timeoutMs?: number;
  /**
   * Largest reply body read, in bytes (default 64 MiB), for every call, /sync included. A
   * larger one fails with ResponseTooLargeError and its connection is closed unread.
   */
  maxResponseBytes?: number;
  /** Gets one line per attempt and one per outcome (method, path, status, time). Never given tokens, passwords, queries or bodies. */
  logger?: (line: string) => void;
}

/** What the core tells its owner (the session turns these into events). */
export interface CoreHooks {
  /** A 429 is being waited out before attempt `attempt` (the session's `rateLimited` event). */
  rateLimited(info: { method: string; path: string; delayMs: number; attempt: number }): void;
  /** The access token was renewed with the refresh token (the session's `tokenChanged` event). */
  tokenRefreshed(info: { accessToken: string; refreshToken?: string; expiresInMs?: number }): void;
  /** The server refused the token for good (the session's `sessionExpired` event). */
  sessionExpired(info: { softLogout: boolean; error: MatrixError }): void;
}

/** A reply whose body is read as a stream (`RequestCore.stream`): a download. */
export interface StreamedResponse {
  /** The HTTP status (2xx). */
  readonly status: number;
  /**
   * The body, bounded by the request's `maxResponseBytes`. It fails with a typed error:
   * ResponseTooLargeError past the limit, ConnectionError `ERR_RESPONSE_TRUNCATED` when cut
   * short, TimeoutError when nothing arrives for `timeoutMs` while it is read, AbortError.
   */
  readonly stream: Readable;
  /** The Content-Type header, if any. */
  readonly contentType?: string;
  /** The Content-Length header, when it is a valid number. */
  readonly contentLength?: number;
  /** The file name from Content-Disposition (RFC 6266, `filename*` preferred), reduced to a safe base name. */
  readonly filename?: string;
}

type Outcome = { response: AxiosResponse<string>; streamed?: StreamedResponse } | { failure: MatrixSessionError };

/**
 * The one pipeline every endpoint goes through: auth header, URL building, JSON, timeouts
 * and cancellation, the reply size cap, error mapping (secrets redacted), 429 / 503 and
 * transient-failure retries, token refresh.
 */
export class RequestCore {
  /** The tokens and IDs the core sends and renews. */
  readonly credentials = new Credentials();
  /** The homeserver's base URL, without trailing slashes. */
  readonly baseUrl: string;
  /** The session's retry settings, with the defaults filled in. */
  readonly retry: RetrySettings;
  /** The default per-attempt timeout in ms (`timeoutMs`, default 30 s). */
  readonly timeoutMs: number;
  /** The session's reply size cap in bytes (`maxResponseBytes`, default 64 MiB). */
  readonly maxResponseBytes: number;
  #logger?: (line: string) => void;
  #http: AxiosInstance;
  #closed = new AbortController();
  /** Aborts each request in flight; close() calls them all (a Set is cheaper than a listener per request). */
  #inFlight = new Set<() => void>();
  /**
   * AbortControllers of finished requests that were never aborted, for the next requests:
   * making one costs more than the rest of our per-request work together. axios removes
   * its listener from the signal when the request settles, so a reused one is as new.
   */
  #idleControllers: AbortController[] = [];
  #refreshing?: Promise<void>;
  /** The header objects for the token held (with and without a JSON body), rebuilt when it changes. */
  #headersFor: string | undefined | null = null;
  #authHeaders: Record<string, string> = {};
  #authJsonHeaders: Record<string, string> = {};

  constructor(
    options: CoreOptions,
    private readonly hooks: CoreHooks,
  ) {
    check.object('options', options);
    this.baseUrl = check.baseUrl('baseUrl', options.baseUrl);
    check.optional(options.timeoutMs, (v) => check.int('timeoutMs', v, { min: 1, max: MAX_TIMER_MS }));
    check.optional(options.maxResponseBytes, (v) => check.int('maxResponseBytes', v, { min: 1 }));
    check.optional(options.maxRetries, (v) => check.int('maxRetries', v, { max: 1000 }));
    check.optional(options.maxRateLimitWaitMs, (v) => check.int('maxRateLimitWaitMs', v, { max: MAX_TIMER_MS }));
    check.optional(options.backoffBaseMs, (v) => check.int('backoffBaseMs', v, { max: MAX_TIMER_MS }));
    check.optional(options.backoffMaxMs, (v) => check.int('backoffMaxMs', v, { max: MAX_TIMER_MS }));
    if (options.logger !== undefined && typeof options.logger !== 'function') {
      throw new ValidationError('logger', 'must be a function');
    }
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#logger = options.logger;
    this.retry = {
      maxRetries: options.maxRetries ?? DEFAULT_RETRY.maxRetries,
      maxRateLimitWaitMs: options.maxRateLimitWaitMs ?? DEFAULT_RETRY.maxRateLimitWaitMs,
      backoffBaseMs: options.backoffBaseMs ?? DEFAULT_RETRY.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULT_RETRY.backoffMaxMs,
    };
    // Sleeps and refresh waits listen on this signal; dozens at once are normal, not a leak.
    setMaxListeners(0, this.#closed.signal);
    // Bodies are handled as text so a truncated or HTML body is ours to diagnose; no
    // compression is asked for (decompressing costs more than it saves on a LAN-near
    // homeserver); redirects are followed only where an endpoint opts in. `adapter: 'http'`
    // skips axios's adapter lookup; `proxy: false` is deliberately not set: it would drop the
    // http(s)_proxy variables and, with axios 1.21 on Node 20, it is slower. maxContentLength:
    // axios counts the bytes as they arrive and destroys the socket when they pass it.
    this.#http = axios.create({
      adapter: 'http',
      httpAgent: new HttpAgent(AGENT_OPTIONS),
      httpsAgent: new HttpsAgent(AGENT_OPTIONS),
      validateStatus: null,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      transformRequest: [(data: unknown) => data],
      decompress: false,
      maxRedirects: 0,
      maxContentLength: this.maxResponseBytes,
      headers: { 'Accept-Encoding': 'identity', Accept: 'application/json' },
    });
  }

  /** True once `close()` was called: every request then fails with AbortError. */
  get closed(): boolean {
    return this.#closed.signal.aborted;
  }

  /** Aborts every request in flight and every one made afterwards. */
  close(): void {
    // The closed signal first: a request that settles because of the loop below sees `closed`.
    this.#closed.abort();
    for (const abort of [...this.#inFlight]) abort();
  }

  /**
   * Sends one request through the pipeline and returns the parsed JSON reply. Safe requests
   * are retried after transient failures, any request after a 429 (within `maxRetries`); a
   * refused token is renewed once with the refresh token and the request repeated.
   *
   * @param spec The endpoint call: method, path (built with the `path` tag), query, body,
   *   auth, idempotency, and what a 2xx body must hold (`required`, `fields`).
   * @param options `signal`, `timeoutMs`, `maxRetries` for this call.
   * @throws {MatrixError} the server's error reply (after the retries it allows).
   * @throws {ValidationError} bad options, a body that is not serialisable as JSON, a bad raw body.
   * @throws {NotLoggedInError} `auth: 'required'` (the default) without an access token.
   * @throws {InvalidResponseError} a 2xx body that is not JSON or lacks a `required` / `fields` entry.
   * @throws {ConnectionError} the network failed (ECONNREFUSED, ECONNRESET, a truncated body).
   * @throws {TimeoutError} an attempt got no reply within `timeoutMs`, and it was not retried.
   * @throws {AbortError} `options.signal` fired or the session was closed.
   * @throws {ResponseTooLargeError} the reply was larger than `maxResponseBytes`.
   * @throws {BodyLengthError} a raw body gave more or fewer bytes than its declared length.
   * @throws {BodyReadError} a raw body's source failed while it was read.
   * @example
   * class MyClient extends MatrixSession {
   *   devices(options?: RequestOptions) {
   *     return this.core.request<{ devices: { device_id: string }[] }>(
   *       { method: 'GET', path: '/_matrix/client/v3/devices', required: ['devices'] },
   *       options,
   *     );
   *   }
   * }
   */
  request<T>(spec: RequestSpec, options: RequestOptions = {}): Promise<T> {
    return this.#exchange<T>(spec, options, false);
  }

  /**
   * Like `request`, but the 2xx reply's body is handed over as a stream, never buffered (a
   * media download). A Content-Length above `spec.maxResponseBytes` (default: the session's
   * `maxResponseBytes`) is refused before the body is read. Error replies still become a
   * MatrixError, and are retried like any other until a 2xx arrives; the stream itself is
   * never retried. The stream's own failures are described at StreamedResponse.
   *
   * @param spec As for `request`; `maxResponseBytes` bounds the streamed body.
   * @param options `signal`, `timeoutMs` (also the idle limit while the body is read), `maxRetries`.
   * @throws {ResponseTooLargeError} when the Content-Length says the body is too large.
   * @throws {MatrixError} the server's error reply; and every other error of `request`.
   * @example
   * // in a MatrixSession subclass
   * const { stream } = await this.core.stream({
   *   method: 'GET',
   *   path: path`/_matrix/client/v1/media/download/${serverName}/${mediaId}`,
   *   maxResponseBytes: 10 * 2 ** 20,
   * });
   * await pipeline(stream, createWriteStream('./download'));
   */
  stream(spec: RequestSpec, options: RequestOptions = {}): Promise<StreamedResponse> {
    return this.#exchange<StreamedResponse>(spec, options, true);
  }

  async #exchange<T>(spec: RequestSpec, options: RequestOptions, streamed: boolean): Promise<T> {
    const target: RequestTarget = { method: spec.method, path: spec.path };
    checkRequestOptions(options);
    const maxRetries = options.maxRetries ?? this.retry.maxRetries;
    const idempotency = spec.idempotency ?? (spec.method === 'GET' ? 'safe' : 'unsafe');
    if (spec.body !== undefined && spec.rawBody !== undefined) throw new ValidationError('rawBody', 'cannot go with a JSON body');
    const body = spec.body === undefined ? undefined : check.json('body', spec.body);
    const raw = spec.rawBody === undefined ? undefined : await prepareBody(spec.rawBody);
    const url = (spec.baseUrl ?? this.baseUrl) + spec.path + queryString(spec.query);
    let refreshed = false;

    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted || this.closed) throw new AbortError(target);
      const token = spec.auth === 'none' ? undefined : this.credentials.accessToken;
      if (!token && (spec.auth ?? 'required') === 'required') throw new NotLoggedInError(target);

      // Log lines are only built when there is a logger to take them.
      const logging = this.#logger !== undefined;
      const started = logging ? Date.now() : 0;
      if (logging) this.#log(`-> ${spec.method} ${spec.path}${attempt ? ` (retry ${attempt})` : ''}`);
      const outcome = await this.#send(spec, url, body ?? raw, token, options, streamed);
      // A one-shot stream that gave its first byte cannot be sent again, whatever the failure.
      const replayable = raw === undefined || raw.replayable;
      const retryable = attempt < maxRetries && replayable;

      if ('failure' in outcome) {
        const error = outcome.failure;
        if (logging) this.#log(`<- ${error.name} ${spec.method} ${spec.path} ${Date.now() - started}ms retries=${attempt}`);
        if (!isRepeatable(error, idempotency) || !retryable) throw error;
        await this.#sleep(backoffDelay(attempt, this.retry), options.signal, target);
        continue;
      }

      const { response } = outcome;
      if (logging) this.#log(`<- ${response.status} ${spec.method} ${spec.path} ${Date.now() - started}ms retries=${attempt}`);
      if (response.status >= 200 && response.status < 300) {
        return outcome.streamed ? (outcome.streamed as T) : parseSuccess<T>(target, response, spec);
      }

      const error = toMatrixError(target, response, [
        token,
        this.credentials.accessToken,
        this.credentials.refreshToken,
        ...(spec.secrets ?? []),
      ]);
      // A 429 means the server did not act on the request, so even an unsafe one may be
      // repeated; a 503 that says when to come back is waited out alike, for a safe one only.
      if (error.httpStatus === 429 || (error.httpStatus === 503 && error.retryAfterMs !== undefined && idempotency === 'safe')) {
        const delayMs = error.retryAfterMs ?? backoffDelay(attempt, this.retry);
        if (!retryable || delayMs > this.retry.maxRateLimitWaitMs) throw error;
        if (error.httpStatus === 429) {
          this.hooks.rateLimited({ method: spec.method, path: spec.path, delayMs, attempt: attempt + 1 });
        }
        await this.#sleep(delayMs, options.signal, target);
        continue;
      }
      if (error.httpStatus === 401 && error.errcode === 'M_UNKNOWN_TOKEN' && token) {
        // The server refused the token, so it did not act on the request: repeating is safe.
        // Each request renews at most once; the repeat does not count as a retry.
        const current = this.credentials.accessToken;
        if (current && current !== token && !refreshed) {
          // Another request refreshed (or the app set new credentials) while this one was in flight.
          if (!replayable) throw error;
          refreshed = true;
          attempt--;
          continue;
        }
        if (current === token && this.credentials.refreshToken && !refreshed) {
          refreshed = true;
          // Renewed even for a body that cannot be sent again: the session's next request needs it.
          await this.refreshToken({ signal: options.signal });
          if (!replayable) throw error;
          attempt--;
          continue;
        }
        // Only the first request to learn of it ends the session: N concurrent 401s, one event.
        if (current === token) this.hooks.sessionExpired({ softLogout: error.softLogout, error });
        throw error;
      }
      if (isTransient(error) && idempotency === 'safe' && retryable) {
        await this.#sleep(backoffDelay(attempt, this.retry), options.signal, target);
        continue;
      }
      throw error;
    }
  }

  /**
   * Trades the refresh token for a new access token. Concurrent callers share one
   * refresh, which a caller's `signal` cannot cancel for the others: an aborted caller
   * stops waiting (AbortError), the refresh carries on. A refused refresh (401) ends the
   * session; other failures (network, 429 beyond the retries, a malformed reply) are
   * thrown without ending it, since the refresh token may well still be good.
   */
  refreshToken(options: RequestOptions = {}): Promise<void> {
    try {
      checkRequestOptions(options);
    } catch (error) {
      return Promise.reject(error); // like every other call: bad input rejects, it does not throw
    }
    const target: RequestTarget = { method: 'POST', path: REFRESH_PATH };
    if (options.signal?.aborted || this.closed) return Promise.reject(new AbortError(target));
    const shared = (this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    }));
    return this.#race(shared, options.signal, target);
  }

  async #refresh(): Promise<void> {
    const refreshToken = this.credentials.refreshToken;
    if (!refreshToken) throw new MatrixSessionError('No refresh token is held');
    try {
      // The old refresh token stays valid until the new one is used, so a lost reply
      // can be retried safely.
      const res = await this.request<{ access_token: string; refresh_token?: string | null; expires_in_ms?: number | null }>({
        method: 'POST',
        path: REFRESH_PATH,
        body: { refresh_token: refreshToken },
        auth: 'none',
        idempotency: 'safe',
        fields: { access_token: 'token', refresh_token: 'token?', expires_in_ms: 'int?' },
        secrets: [refreshToken],
      });
      if (this.credentials.refreshToken !== refreshToken) return; // logged out or replaced meanwhile
      const next = { accessToken: res.access_token, refreshToken: res.refresh_token ?? undefined, expiresInMs: res.expires_in_ms ?? undefined };
      this.credentials.rotate(next.accessToken, next.refreshToken, next.expiresInMs);
      this.hooks.tokenRefreshed(next);
    } catch (error) {
      if (error instanceof MatrixError && error.httpStatus === 401 && this.credentials.refreshToken === refreshToken) {
        this.hooks.sessionExpired({ softLogout: error.softLogout, error });
      }
      throw error;
    }
  }

  async #send(
    spec: RequestSpec,
    url: string,
    body: string | PreparedBody | undefined,
    token: string | undefined,
    options: RequestOptions,
    streamed: boolean,
  ): Promise<Outcome> {
    const timeoutMs = options.timeoutMs ?? spec.timeoutMs ?? this.timeoutMs;
    const controller = this.#idleControllers.pop() ?? new AbortController();
    const signal = options.signal;
    let timedOut = false;
    const abort = () => controller.abort();
    const onTimeout = () => {
      timedOut = true;
      controller.abort();
    };
    signal?.addEventListener('abort', abort);
    this.#inFlight.add(abort);
    const timer = setTimeout(onTimeout, clampDelay(timeoutMs));
    const target = { method: spec.method, path: spec.path };
    const config: AxiosRequestConfig = {
      method: spec.method,
      url,
      headers: this.#headers(spec, token, body),
      signal: controller.signal,
    };
    let upload: UploadStream | undefined;
    let settled = false;
    // A raw body's timeout counts from its last chunk: a large upload is not cut for being slow.
    // (Never once the attempt is over: refresh() would re-arm a cleared timer.)
    if (typeof body === 'object') config.data = upload = body.open(() => settled || timer.refresh());
    else if (body !== undefined) config.data = body;
    if (spec.followRedirects) config.maxRedirects = MAX_REDIRECTS;
    const limitBytes = spec.maxResponseBytes ?? this.maxResponseBytes;
    if (streamed) {
      // The stream's own wrapper counts the bytes (and needs to see each chunk anyway for its
      // idle timer); axios's limit would throw an AxiosError, which holds the request headers.
      config.responseType = 'stream';
      config.maxContentLength = -1;
    } else if (spec.maxResponseBytes !== undefined) config.maxContentLength = spec.maxResponseBytes;
    const release = () => {
      settled = true;
      clearTimeout(timer);
      this.#inFlight.delete(abort);
      signal?.removeEventListener('abort', abort);
    };
    let handedOver = false;
    try {
      const response = await this.#http.request<string>(config);
      if (!streamed) return { response };
      const source = response.data as unknown as Readable;
      if (response.status < 200 || response.status >= 300) {
        response.data = await readText(source, STREAM_ERROR_BODY_BYTES);
        return { response };
      }
      const contentLength = lengthHeader(response.headers['content-length']);
      if (contentLength !== undefined && contentLength > limitBytes) {
        source.destroy(); // refused before a byte of the body is read
        return { failure: new ResponseTooLargeError(target, limitBytes) };
      }
      clearTimeout(timer); // from here the stream's idle timer applies
      settled = true;
      handedOver = true;
      const stream = new ResponseStream(source, {
        maxBytes: limitBytes,
        expectedBytes: contentLength,
        idleMs: clampDelay(timeoutMs),
        tooLarge: () => new ResponseTooLargeError(target, limitBytes),
        truncated: () => new ConnectionError(target, TRUNCATED_CODE, true),
        idle: () => new TimeoutError(target, timeoutMs),
        mapError: (error) =>
          controller.signal.aborted ? new AbortError(target) : transportFailure(target, error, limitBytes, true),
        onClose: release,
      });
      const contentType = response.headers['content-type'];
      return {
        response,
        streamed: {
          status: response.status,
          stream,
          contentType: typeof contentType === 'string' ? contentType : undefined,
          contentLength,
          filename: dispositionFilename(response.headers['content-disposition']),
        },
      };
    } catch (error) {
      // Never rethrow the axios error: its config holds the Authorization header.
      if (upload?.failure) return { failure: upload.failure as MatrixSessionError };
      if (timedOut) return { failure: new TimeoutError(target, timeoutMs) };
      if (controller.signal.aborted) return { failure: new AbortError(target) };
      return { failure: transportFailure(target, error, limitBytes, false) };
    } finally {
      if (!handedOver) {
        release();
        if (!controller.signal.aborted && !streamed && this.#idleControllers.length < MAX_IDLE_CONTROLLERS) {
          this.#idleControllers.push(controller);
        }
      }
    }
  }

  /**
   * The request's own headers (axios merges them into a new object, so the shared ones
   * below are never written to). Without headers of the endpoint's own or a raw body, one
   * object per token and body kind serves every request.
   */
  #headers(spec: RequestSpec, token: string | undefined, body: string | PreparedBody | undefined): Record<string, string> {
    const json = typeof body === 'string';
    if (spec.headers !== undefined || typeof body === 'object') {
      const headers: Record<string, string> = { ...spec.headers };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (json) headers['Content-Type'] = 'application/json';
      if (typeof body === 'object') {
        headers['Content-Type'] = body.contentType;
        headers['Content-Length'] = String(body.length);
      }
      return headers;
    }
    if (token !== this.#headersFor) {
      this.#headersFor = token;
      this.#authHeaders = token ? { Authorization: `Bearer ${token}` } : {};
      this.#authJsonHeaders = { ...this.#authHeaders, 'Content-Type': 'application/json' };
    }
    return json ? this.#authJsonHeaders : this.#authHeaders;
  }

  #sleep(ms: number, signal: AbortSignal | undefined, target: RequestTarget): Promise<void> {
    const wake = new AbortController();
    // An aborted wait clears its timer, so a closed session leaves nothing pending.
    return this.#race(sleep(ms, wake.signal), signal, target, () => wake.abort());
  }

  /** Settles with `work`, or with an AbortError as soon as `signal` or the session is aborted. */
  #race<T>(work: Promise<T>, signal: AbortSignal | undefined, target: RequestTarget, onAborted?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        done();
        onAborted?.();
        reject(new AbortError(target));
      };
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        this.#closed.signal.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted || this.closed) return onAbort();
      signal?.addEventListener('abort', onAbort);
      this.#closed.signal.addEventListener('abort', onAbort);
      work.then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  #log(line: string): void {
    try {
      this.#logger?.(line);
    } catch {
      // A broken logger must not break the request it reports on.
    }
  }
}

const REFRESH_PATH = '/_matrix/client/v3/refresh';

function checkRequestOptions(options: RequestOptions): void {
  if (typeof options !== 'object' || options === null) throw new ValidationError('options', 'must be an object');
  const { signal, timeoutMs, maxRetries } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new ValidationError('options.signal', 'must be an AbortSignal');
  }
  check.optional(timeoutMs, (v) => check.int('options.timeoutMs', v, { min: 1, max: MAX_TIMER_MS }));
  check.optional(maxRetries, (v) => check.int('options.maxRetries', v, { max: 1000 }));
}

/**
 * May a failed attempt be sent again? A connection failure: when the request is safe, or
 * certainly never reached the server. A timeout: when it is safe (it may have been acted on).
 */
function isRepeatable(error: MatrixSessionError, idempotency: Idempotency): boolean {
  if (error instanceof ConnectionError) return idempotency === 'safe' || !error.mayHaveReachedServer;
  return error instanceof TimeoutError && idempotency === 'safe';
}

/**
 * The typed error for what axios threw below HTTP: a reply too large, one cut short, or a
 * connection failure. `midBody`: the error came from a streamed body, after the server answered.
 */
function transportFailure(target: RequestTarget, error: unknown, limitBytes: number, midBody: boolean): MatrixSessionError {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'ERR_BAD_RESPONSE' && typeof message === 'string') {
    if (message.startsWith('maxContentLength')) return new ResponseTooLargeError(target, limitBytes);
    // The server answered (it acted on the request), then the connection broke mid-body.
    if (message === AXIOS_TRUNCATED) return new ConnectionError(target, TRUNCATED_CODE, true);
  }
  // Node's own words for a response whose connection closed before its end.
  if (midBody && (message === 'aborted' || code === 'ECONNRESET')) return new ConnectionError(target, TRUNCATED_CODE, true);
  const name = String(code ?? 'UNKNOWN');
  // follow-redirects: a redirect loop (more than MAX_REDIRECTS) or a Location it cannot follow.
  // The server's answer, not a network failure: asking again would bring the same redirects.
  if (name === 'ERR_FR_TOO_MANY_REDIRECTS') return new InvalidResponseError(target, 0, `more than ${MAX_REDIRECTS} redirects`);
  if (name.startsWith('ERR_FR_') || name === 'ERR_INVALID_URL') return new InvalidResponseError(target, 0, 'a redirect to a location that cannot be followed');
  return new ConnectionError(target, name, midBody || !NEVER_SENT_CODES.has(name));
}

/** A Content-Length header's value, when it is one. */
function lengthHeader(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

