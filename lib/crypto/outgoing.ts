import { path } from '../core/path';
import type { HttpMethod, RequestCore, RequestSpec } from '../core/request';

/** The engine's request kinds (RequestType in the engine's bindings; the numbers are theirs). */
export const RequestType = {
  KeysUpload: 0,
  KeysQuery: 1,
  KeysClaim: 2,
  ToDevice: 3,
  SignatureUpload: 4,
  RoomMessage: 5,
  KeysBackup: 6,
} as const;

/** What the engine's outgoing requests have in common (KeysUploadRequest, ToDeviceRequest, …). */
export interface EngineRequest {
  readonly id?: string;
  readonly type: number;
  /** JSON text. */
  readonly body: string;
  readonly event_type?: string;
  readonly txn_id?: string;
  readonly room_id?: string;
  readonly version?: string;
}

/** The part of the OlmMachine this file uses. */
export interface OutgoingMachine {
  outgoingRequests(): Promise<EngineRequest[]>;
  backupRoomKeys(): Promise<EngineRequest | undefined>;
  isBackupEnabled(): Promise<boolean>;
  markRequestAsSent(id: string, type: number, response: string): Promise<unknown>;
}

/** The HTTP call for one engine request: every one of them is safe to repeat (the to-device and room sends by their txnId). */
export function toHttp(request: EngineRequest): RequestSpec {
  const body = JSON.parse(request.body) as unknown;
  const spec = (method: HttpMethod, p: string, extra: Partial<RequestSpec> = {}): RequestSpec => ({
    method,
    path: p,
    body,
    idempotency: 'safe',
    ...extra,
  });
  switch (request.type) {
    case RequestType.KeysUpload:
      return spec('POST', '/_matrix/client/v3/keys/upload');
    case RequestType.KeysQuery:
      return spec('POST', '/_matrix/client/v3/keys/query');
    case RequestType.KeysClaim:
      return spec('POST', '/_matrix/client/v3/keys/claim');
    case RequestType.SignatureUpload:
      return spec('POST', '/_matrix/client/v3/keys/signatures/upload');
    case RequestType.ToDevice:
      return spec('PUT', path`/_matrix/client/v3/sendToDevice/${request.event_type!}/${request.txn_id!}`);
    case RequestType.RoomMessage:
      return spec('PUT', path`/_matrix/client/v3/rooms/${request.room_id!}/send/${request.event_type!}/${request.txn_id!}`, {
        required: ['event_id'],
      });
    case RequestType.KeysBackup:
      return spec('PUT', '/_matrix/client/v3/room_keys/keys', { query: { version: request.version } });
    default:
      throw new Error(`Unknown outgoing request type ${request.type}`);
  }
}

/**
 * The outgoing-requests loop: takes the engine's pending requests (key uploads, queries,
 * claims, to-device messages, signature uploads, room messages, and the key backup),
 * sends each through the request core and reports the answer back (`markRequestAsSent`).
 * One pass at a time: asking while a pass runs schedules one more pass after it (however
 * many ask), and the caller's promise resolves when that pass is done.
 */
export class OutgoingRequests {
  #current?: Promise<void>;
  #queued?: Promise<void>;

  constructor(
    private readonly machine: OutgoingMachine,
    private readonly core: RequestCore,
    private readonly signal: AbortSignal,
    /** A request that failed: it stays with the engine and goes out again in a later pass. */
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Runs a pass (or joins the one queued behind the running one). Never rejects. */
  run(): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    if (this.#current) {
      return (this.#queued ??= this.#current.then(() => {
        this.#queued = undefined;
        return this.run();
      }));
    }
    const pass = this.#pass().finally(() => {
      if (this.#current === pass) this.#current = undefined;
    });
    this.#current = pass;
    return pass;
  }

  /** Resolves when no pass is running (or queued). */
  async settled(): Promise<void> {
    while (this.#current || this.#queued) await (this.#queued ?? this.#current);
  }

  /** Sends one request and marks it sent; the parsed response is returned. */
  async send(request: EngineRequest): Promise<unknown> {
    const response = await this.core.request<unknown>(toHttp(request), { signal: this.signal });
    if (request.id !== undefined) await this.machine.markRequestAsSent(request.id, request.type, JSON.stringify(response));
    return response;
  }

  async #pass(): Promise<void> {
    try {
      const requests = await this.machine.outgoingRequests();
      if (await this.machine.isBackupEnabled()) {
        const backup = await this.machine.backupRoomKeys();
        if (backup) requests.push(backup);
      }
      await Promise.all(requests.map((r) => this.send(r).catch((error: unknown) => this.#report(error))));
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    if (!this.signal.aborted) this.onError(error);
  }
}
