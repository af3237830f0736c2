export { MatrixSession, type SessionOptions, type StoredCredentials, type GroupConstructor } from './session';
export type { SessionEvents, AuthInfo } from './events';
export type { Credentials } from './core/credentials';
export type { SafeEmitter } from './core/emitter';
export {
  MatrixSessionError,
  MatrixError,
  ValidationError,
  InvalidResponseError,
  ConnectionError,
  ResponseTooLargeError,
  TimeoutError,
  AbortError,
  NotLoggedInError,
  BodyLengthError,
  BodyReadError,
  MediaTooLargeError,
  AttachmentHashError,
  type RequestTarget,
} from './core/errors';
export {
  RequestCore,
  type RequestOptions,
  type RequestSpec,
  type HttpMethod,
  type CoreOptions,
  type CoreHooks,
  type StreamedResponse,
} from './core/request';
export type { BodyData, RawBody, ProgressListener } from './core/body';
export type { FieldRule, FieldType } from './core/response';
export type { RetrySettings, Idempotency } from './core/retry';
export { path, type QueryValue } from './core/path';
export { Resource } from './resources/resource';
export { Auth, authSecrets, type AuthDict, type ThreepidCreds } from './auth/builders';
export { runUia, type UiaAuth, type UiaContext, type UiaFlow, type StageAnswer } from './auth/uia';
export * from './resources/account';
export * from './resources/server';
export * from './resources/sync';
export { MemorySyncStore, FileSyncStore, type Awaitable, type SyncStore, type StoredFilter, type FileSyncStoreOptions } from './sync/store';
export type { SyncEventStream } from './sync/stream';
export {
  SYNC_EVENT_NAMES,
  type SyncState,
  type SyncStateInfo,
  type SyncErrorInfo,
  type SyncErrorSource,
  type SyncEvents,
  type SyncItem,
  type SyncItemKind,
  type SyncItemBase,
  type SyncRoomItem,
  type SyncMemberItem,
  type SyncTimelineItem,
  type RoomTimeline,
  type MessageEventContent,
  type TypingEvent,
  type ReceiptEvent,
  type PresenceEvent,
  type UndecryptableInfo,
} from './sync/types';
export * from './resources/rooms';
export * from './resources/room-messaging';
export * from './resources/media';
export { parseMxc, type MxcParts } from './media/mxc';
export { DEFAULT_BUFFER_LIMIT } from './media/source';
export type { SendMediaOptions, SentMedia, MediaThumbnail, MediaKind } from './media/send';
export {
  AttachmentEncryptor,
  encryptAttachment,
  decryptAttachment,
  decryptingStream,
  type EncryptedFile,
  type EncryptedFileInfo,
  type EncryptedAttachment,
  type AttachmentKey,
} from './media/attachment';
export * from './builders/room-event';
export * from './builders/state-event';
export * from './resources/profile';
export * from './resources/crypto';
export {
  CryptoError,
  CryptoPackageMissingError,
  CryptoStoreLockedError,
  CryptoPassphraseError,
  CryptoStoreError,
  CryptoNotStartedError,
} from './crypto/errors';
export { encodeRecoveryKey, decodeRecoveryKey, RecoveryKeyError, type RecoveryKeyProblem } from './crypto/recovery-key';
export * from './resources/threepid';
export type * from './types';
