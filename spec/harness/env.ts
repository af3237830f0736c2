// What integration specs import: the server started by global-setup, described by process.env.
import { waitForMail as waitForMailIn, type SunkMail } from './mail-sink';

export { extractLink, type SunkMail } from './mail-sink';

export interface ItEnv {
  baseUrl: string;
  serverName: string;
  mailDir: string;
  sharedSecret: string;
  dataDir: string;
}

export function itEnv(): ItEnv {
  const get = (name: string): string => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run integration specs via jest's "integration" project (its globalSetup starts Synapse), or set it for an external server`);
    return v;
  };
  return {
    baseUrl: get('MATRIX_IT_BASE_URL'),
    serverName: get('MATRIX_IT_SERVER_NAME'),
    mailDir: get('MATRIX_IT_MAIL_DIR'),
    sharedSecret: get('MATRIX_IT_SHARED_SECRET'),
    dataDir: get('MATRIX_IT_DATA_DIR'),
  };
}

let counter = 0;
/** Unique across parallel jest workers (they share one server): lowercase, valid as a Matrix localpart. */
export function uniqueName(prefix: string): string {
  const rand = Math.random().toString(36).slice(2, 8);
  return `${prefix.toLowerCase()}-${process.pid}-${++counter}-${rand}`;
}

export function waitForMail(address: string, opts?: { timeoutMs?: number; since?: number }): Promise<SunkMail> {
  return waitForMailIn(itEnv().mailDir, address, opts);
}
