export { MatrixSession, type SessionOptions, type StoredCredentials, type GroupConstructor } from './session';
export type { SessionEvents, AuthInfo } from './events';
export {
  MatrixSessionError,
  MatrixError,
  ValidationError,
  InvalidResponseError,
  ConnectionError,
  TimeoutError,
  AbortError,
  NotLoggedInError,
} from './core/errors';
export { RequestCore, type RequestOptions, type RequestSpec, type HttpMethod, type CoreOptions } from './core/request';
export { path } from './core/path';
export { Resource } from './resources/resource';
export { Auth, type AuthDict, type ThreepidCreds } from './auth/builders';
export { runUia, type UiaAuth, type UiaContext, type UiaFlow } from './auth/uia';
export * from './resources/account';
export * from './resources/server';
export * from './resources/sync';
export * from './resources/rooms';
export * from './builders/room-event';
export * from './builders/state-event';
export * from './resources/profile';
export * from './resources/threepid';
export type * from './types';
